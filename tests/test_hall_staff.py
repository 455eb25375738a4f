"""The hall's staff registry, counter sessions, alert board and ``linfen staff`` on a real store file.

No raw card UID or PIN reaches the database file; a slow KDF with its parameters is stored; five
wrong PINs lock a card for five minutes; a window has one clerk; sessions end on logout, another
login, idleness and age.  Alerts are worded per kind in zh and en, written with their outbox
event in one action (or the caller's), and the event carries no name.  The admin command reads
the PIN from standard input, never from its arguments, and says what is wrong in one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kiosk.hall.alerts import KIND_WORDS, AlertBoard
from kiosk.hall.errors import HallError
from kiosk.hall.services import HALL_TZ
from kiosk.hall.staff import (
    ScryptParams,
    StaffRefused,
    StaffRegistry,
    card_key,
    check_pin,
    hash_pin,
    verify_pin,
)
from kiosk.hall.staff_tables import STAFF_ALERT_MIGRATIONS
from kiosk.store import Store

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

KEY = b"linfen-test-person-key-0123456789"
UID = "04A1B2C3D4E5F6"
PIN = "2468"
ROOT = Path(__file__).resolve().parent.parent


class Clock:
    """A hall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 3, 9, 0, tzinfo=HALL_TZ)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "hall.db", "hall-01", extra_migrations=(STAFF_ALERT_MIGRATIONS,))
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def staff(store: Store, clock: Clock) -> StaffRegistry:
    registry = StaffRegistry(store, KEY, clock=clock, kdf=ScryptParams(n=2**10))
    registry.set("S001", "王*丽", UID, PIN)
    return registry


def refused(fn, *args) -> StaffRefused:
    with pytest.raises(StaffRefused) as info:
        fn(*args)
    return info.value


def test_the_store_keeps_keyed_hashes_never_the_card_uid_or_the_pin(tmp_path: Path):
    store = Store.open(tmp_path / "hall.db", "hall-01", extra_migrations=(STAFF_ALERT_MIGRATIONS,))
    registry = StaffRegistry(store, KEY)  # the default KDF, as `linfen staff set` uses
    registry.set("S001", "王*丽", UID.lower(), "97531")
    session = registry.login(3, UID, "97531")
    row = store.db.execute("SELECT card_key, pin_hash FROM hall_staff").fetchone()
    store.close()
    assert row[0] == card_key(UID, KEY) and len(row[0]) == 64
    assert row[1].startswith("scrypt$16384$8$1$") and verify_pin("97531", row[1]) and not verify_pin("97530", row[1])
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for secret in (UID, UID.lower(), "97531", session.token):
        assert secret.encode() not in blob, secret
    assert card_key(UID, KEY) != card_key(UID, b"another-deployment-key-000000")


def test_pins_must_be_typable_and_not_trivial():
    assert check_pin("2468") == "2468"
    for bad in ("123", "123456789", "12a4", "1111", "1234", "9876", "0123", ""):
        with pytest.raises(HallError):
            check_pin(bad)
    one, two = hash_pin("2468", ScryptParams(n=2**10)), hash_pin("2468", ScryptParams(n=2**10))
    assert one != two  # a salt per hash
    assert not verify_pin("2468", "md5$whatever") and not verify_pin("2468", "garbage")


def test_five_wrong_pins_lock_the_card_for_five_minutes(staff: StaffRegistry, store: Store, clock: Clock):
    assert refused(staff.login, 3, "DEADBEEF", PIN).reason == "unknown_card"
    for left in (4, 3, 2, 1):
        error = refused(staff.login, 3, UID, "1357")
        assert (error.reason, error.words_zh) == ("wrong_pin", f"密码错误，还可再试 {left} 次")
    error = refused(staff.login, 3, UID, "1357")
    assert (error.reason, error.status) == ("locked", 403) and error.words_zh == "密码连续错误 5 次，工作证已锁定 5 分钟"
    assert refused(staff.login, 3, UID, PIN).words_zh == "密码错误次数过多，工作证已锁定，请 5 分钟后再试"
    clock.advance(299)
    assert refused(staff.login, 3, UID, PIN).reason == "locked"
    clock.advance(2)
    assert staff.login(3, UID, PIN).staff_id == "S001"
    assert staff.member("S001").failures == 0
    assert [e.payload["staff_id"] for e in store.pending_events() if e.type == "staff.locked"] == ["S001"]


def test_a_session_is_bound_to_its_clerk_and_window(staff: StaffRegistry):
    staff.set("S002", "李*", "0A0B0C0D", "8642")
    s1 = staff.login(3, UID, PIN)
    assert staff.check(s1.token, "S001", 3).display_name == "王*丽"
    assert refused(staff.check, s1.token, "S002", 3).reason == "wrong_staff"
    assert refused(staff.check, s1.token, "S001", 4).reason == "wrong_window"
    assert refused(staff.check, None, "S001", 3).reason == "no_session"
    assert refused(staff.check, "x" * 43, "S001", 3).reason == "no_session"
    s2 = staff.login(3, "0a0b0c0d", "8642")  # another clerk at the same window
    ended = refused(staff.check, s1.token, "S001", 3)
    assert (ended.reason, ended.words_zh) == ("session_ended", "本窗口已有其他工作人员登录，请重新刷工作证")
    assert staff.window_staff(3).staff_id == "S002"
    staff.login(5, "0A0B0C0D", "8642")  # the same clerk moves to window 5
    assert refused(staff.check, s2.token, "S002", 3).words_zh == "该工号已在其他窗口登录，请重新刷工作证"
    assert staff.window_staff(3) is None and staff.window_staff(5).staff_id == "S002"


def test_sessions_end_on_logout_idleness_age_and_removal(store: Store, clock: Clock):
    registry = StaffRegistry(store, KEY, clock=clock, kdf=ScryptParams(n=2**10), idle_s=600, max_s=3600)
    registry.set("S001", "王*丽", UID, PIN)
    s = registry.login(3, UID, PIN)
    registry.logout(s.token)
    assert refused(registry.check, s.token, "S001", 3).reason == "session_ended"
    s = registry.login(3, UID, PIN)
    clock.advance(601)
    assert refused(registry.check, s.token, "S001", 3).reason == "session_expired"
    assert refused(registry.check, s.token, "S001", 3).reason == "session_ended"  # stays ended
    s = registry.login(3, UID, PIN)
    for _ in range(6):  # in use every 9 minutes: never idle, but a login lasts at most an hour
        clock.advance(540)
        registry.check(s.token, "S001", 3)
    clock.advance(540)
    assert refused(registry.check, s.token, "S001", 3).reason == "session_expired"
    s = registry.login(3, UID, PIN)
    registry.remove("S001")
    assert refused(registry.check, s.token, "S001", 3).reason == "session_ended"
    assert refused(registry.login, 3, UID, PIN).reason == "unknown_card"


def test_a_card_belongs_to_one_clerk(staff: StaffRegistry):
    with pytest.raises(HallError, match="already enrolled for staff S001"):
        staff.set("S002", "李*", UID, "8642")
    staff.set("S001", "王*丽", "0A0B0C0D", "8642")  # a new card and PIN replace the old ones
    assert refused(staff.login, 3, UID, PIN).reason == "unknown_card"
    assert staff.login(3, "0A0B0C0D", "8642").staff_id == "S001"


# -- alerts -------------------------------------------------------------------------------------------------
def test_every_kind_is_said_in_both_languages_with_where_and_who(store: Store):
    board = AlertBoard(store)
    details = {"fever": {"celsius": 38.2}, "printer": {"reason": "paper out", "ticket": "A007"},
               "device_down": {"device": "idcard", "reason": "unplugged"}, "device_up": {"device": "idcard"},
               "device_fault": {"device": "thermometer"}, "flow_stuck": {"state": "issuing"},
               "help": {"screen": "present"}}
    for kind in [*KIND_WORDS, "something_new"]:
        board.raise_alert(kind, "hall-01", resident="张*明" if kind.startswith(("fever", "code")) else "",
                          detail=details.get(kind))
    said = {a.kind: (a.words("zh"), a.words("en")) for a in board.open_alerts()}
    assert said["fever"] == ("体温异常 38.2°C，未发号，请工作人员处置。位置：取号机 hall-01。居民：张*明",
                             "Fever 38.2 °C: no ticket issued, please attend. Where: ticket machine hall-01. "
                             "Resident: 张*明")
    assert said["code_red"][0].startswith("健康码为红码，未发号") and said["code_red"][0].endswith("居民：张*明")
    assert said["printer"][0].startswith("打印机问题（缺纸），A007 号只显示在屏幕上")
    assert said["device_down"] == ("身份证读卡器故障（未连接），请检修。位置：取号机 hall-01",
                                   "ID card reader is down (not connected), please repair. Where: ticket machine hall-01")
    assert said["help"][0] == "居民按了“呼叫工作人员”（刷卡页面），请到取号机协助。位置：取号机 hall-01"
    assert said["something_new"] == ("需要工作人员处理（something_new）。位置：取号机 hall-01",
                                     "Staff needed (something_new). Where: ticket machine hall-01")
    assert all("{" not in zh + en and "—" not in zh for zh, en in said.values())


def test_an_alert_and_its_event_are_one_action_and_the_event_has_no_name(store: Store):
    board = AlertBoard(store)
    told: list[int] = []
    board.add_listener(lambda: told.append(1))
    alert_id = board.raise_alert("code_yellow", "sscard", resident="张*明",
                                 detail={"colour": "yellow", "name": "张三丰", "note": "110101199003077777"})
    [event] = [e for e in store.pending_events() if e.type == "alert.raised"]
    assert event.payload == {"alert_id": alert_id, "kind": "code_yellow", "source": "sscard",
                             "detail": {"colour": "yellow"}}  # a name or an ID number in the detail is left out
    assert board.alert(alert_id).resident == "张*明" and board.alert(alert_id).where("zh") == "社保卡读卡器"
    with pytest.raises(HallError):
        board.raise_alert("fever", "hall-01", resident="张三丰")  # an unmasked name is refused
    with pytest.raises(RuntimeError), store.action() as act:  # the caller's action rolls back: no alert, no event
        board.raise_alert("printer", "hall-01", action=act)
        raise RuntimeError("the caller's action failed")
    assert [a.id for a in board.open_alerts()] == [alert_id] and store.last_seq() == 1
    with store.action() as act:
        second = board.raise_alert("printer", "hall-01", action=act)
    done = board.acknowledge(second, "S001", 3)
    assert (done.ack_staff, done.ack_window) == ("S001", 3)
    with pytest.raises(HallError, match="S001 at window 3 already"):
        board.acknowledge(second, "S002", 4)
    with pytest.raises(HallError, match="no alert 99"):
        board.acknowledge(99, "S001", 3)
    assert len(told) == 4


def test_alerts_with_their_masked_names_are_purged_after_the_retention(store: Store, clock: Clock):
    board = AlertBoard(store, clock=clock)
    old = board.raise_alert("fever", "hall-01", resident="张*明", detail={"celsius": 38.2})
    board.acknowledge(old, "S001", 3)
    unread = board.raise_alert("code_red", "hall-01", resident="李*")
    clock.advance(30 * 24 * 3600)
    recent = board.raise_alert("printer", "hall-01", detail={"reason": "paper out", "ticket": "A012"})
    with store.action() as act:
        assert board.purge(act, clock() - timedelta(days=28)) == 2  # acknowledged or not, older than 28 days
    assert [a.id for a in board.open_alerts()] == [recent] and unread != recent
    rows = store.db.execute("SELECT resident FROM hall_alerts").fetchall()
    assert rows == [("",)]  # no masked name is left behind


# -- linfen staff -------------------------------------------------------------------------------------------
def _linfen(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "linfen", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60)


def test_linfen_staff_set_list_remove(tmp_path: Path):
    (tmp_path / "person.key").write_text("ab" * 32, encoding="ascii")
    config = tmp_path / "hall.toml"
    text = (ROOT / "config/examples/hall.toml").read_text(encoding="utf-8")
    text = text.replace('path = "var/{terminal_id}/terminal.db"', f'path = "{tmp_path / "hall.db"}"')
    text = text.replace('"/etc/linfen/person-key.hex"', f'"{tmp_path / "person.key"}"')
    config.write_text(text, encoding="utf-8")

    done = _linfen("staff", "set", "--config", str(config), "--staff-id", "S001", "--name", "王*丽",
                   "--card-uid", UID, stdin="24680\n")
    assert done.returncode == 0, done.stderr
    assert "S001 (王*丽) enrolled" in done.stdout and "24680" not in done.stdout
    listed = _linfen("staff", "list", "--config", str(config))
    assert listed.returncode == 0 and "S001" in listed.stdout and "1 clerk(s) enrolled" in listed.stdout
    weak = _linfen("staff", "set", "--config", str(config), "--staff-id", "S002", "--name", "李*",
                   "--card-uid", "0A0B0C0D", stdin="1234\n")
    assert (weak.returncode, weak.stderr.strip()) == (
        2, "linfen staff set: the PIN must not be one digit repeated or a run like 1234")
    no_pin = _linfen("staff", "set", "--config", str(config), "--staff-id", "S002", "--name", "李*",
                     "--card-uid", "0A0B0C0D")
    assert no_pin.returncode == 2 and "no PIN on standard input" in no_pin.stderr
    argv_pin = _linfen("staff", "set", "--config", str(config), "--staff-id", "S002", "--name", "李*",
                       "--card-uid", "0A0B0C0D", "--pin", "8642")
    assert argv_pin.returncode == 2 and "unrecognized arguments: --pin" in argv_pin.stderr
    counter = _linfen("staff", "list", "--config", "config/examples/counter.toml")
    assert counter.returncode == 2 and "give the hall's config" in counter.stderr
    gone = _linfen("staff", "remove", "--config", str(config), "--staff-id", "S001")
    assert gone.returncode == 0 and "S001 removed" in gone.stdout
    again = _linfen("staff", "remove", "--config", str(config), "--staff-id", "S001")
    assert (again.returncode, again.stderr.strip()) == (2, "linfen staff remove: no staff 'S001' is enrolled")
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("hall.db"))
    assert UID.encode() not in blob and b"24680" not in blob
