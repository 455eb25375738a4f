"""Reference data pulled by sync is what the terminal reads (issue #9, finding 5).

A register or issuer key imported at a real central (its ``linfen central ... import`` command,
in-process) reaches a hall store through the sync client over HTTP on loopback, and the hall
opened by ``open_hall`` — with no ``[reference]`` file in its config — gives the PRIORITY ticket
and verifies the signed QR token.  Malformed pulled data keeps the previous good data.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import tomllib
from pathlib import Path

import pytest

from hardware_sim import personas
from hardware_sim.code_tokens import Issuer
from hardware_sim.runner import Simulator
from hardware_sim.timing import Timing
from kiosk.codes.status import CodeStatus
from kiosk.codes.tokens import TokenRefusal, TokenVerifier, TrustList
from kiosk.config import parse_config
from kiosk.hall.checkin.events import Show
from kiosk.hall.checkin.setup import open_hall
from kiosk.priority import PriorityRegister, build_register, key_check, person_key
from kiosk.reference import PERSON_KEY_CHECK, ReferenceData, ReferenceDataError
from kiosk.store import Store
from kiosk.voice import Speaker
from linfen import cli as linfen_cli
from linfen.reference import write_central_import
from sync import apply
from sync.client import SyncClient, SyncSettings
from sync.protocol import Change, ChangesResponse
from tests.sync_fixtures import wait_until
from tests.sync_support import CentralHarness

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SITE = "linfen-road"
KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
TODAY = personas.REFERENCE_DATE
FAST = SyncSettings(idle_interval_s=0.05, backoff_base_s=0.05, backoff_cap_s=0.5, connect_timeout_s=2.0,
                    read_timeout_s=10.0, write_timeout_s=10.0, pool_timeout_s=2.0)
CENTRAL_ISSUER = Issuer.from_seed("central-2026", "上海市健康码(中心下发)", "linfen-test-central-issuer")


def persona_where(**want: object) -> personas.Persona:
    for p in personas.load():
        if all(getattr(p, k) == v for k, v in want.items()) and p.age_on(TODAY) < 80:
            return p
    raise LookupError(want)


def central_import(db: str, kind: str, path: Path, *extra: str) -> None:
    """The operator's command: ``linfen central --db DB import KIND FILE --site SITE``."""
    assert linfen_cli.main(["central", "--db", db, "import", kind, str(path), "--site", SITE, *extra]) == 0


def write_json(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def central(tmp_path):
    harness = CentralHarness(tmp_path / "central.db")
    harness.start()
    yield harness
    harness.stop()


def open_store(tmp_path: Path, terminal_id: str = "hall-01") -> Store:
    return Store.open(tmp_path / f"{terminal_id}.db", terminal_id, extra_migrations=[apply.MIGRATIONS])


def pulled_store(tmp_path: Path, central: CentralHarness) -> tuple[Store, SyncClient]:
    """A terminal store enrolled at ``central`` and its sync client (not started: tests pull)."""
    store = open_store(tmp_path)
    client = SyncClient(store, central.url, central.enrol("hall-01", SITE), settings=FAST)
    return store, client


# -- the hall, opened by open_hall, with the simulator's devices --------------------------------


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    simulator = Simulator(tmp_path_factory.mktemp("ref-sim"), Timing.FAST,
                          devices=("idcard", "thermometer", "printer", "code_service"))
    simulator.start()
    yield simulator
    simulator.stop()


def hall_config(sim: Simulator, central: CentralHarness, tmp_path: Path):
    """A hall config with the simulator's devices, enrolled at ``central``, and no [reference] files."""
    data = tomllib.loads(sim.terminal_config("hall", terminal_id="hall-01"))
    key_file = tmp_path / "person-key.hex"
    key_file.write_text(KEY.hex() + "\n", encoding="ascii")
    token_file = tmp_path / "token"
    token_file.write_text(central.enrol("hall-01", SITE) + "\n", encoding="utf-8")
    data.update(site=SITE, central_url=central.url, store={"path": str(tmp_path / "hall.db")},
                privacy={"person_key_file": str(key_file)}, sync={"token_file": str(token_file)},
                lan={"secret": "reference-test-secret-0123456789"}, hall={"bind": "127.0.0.1:0"})
    config = parse_config(data, "hall.toml")
    assert config.reference.priority_register is None and config.reference.trust_keys is None
    return config


@pytest.fixture
def hall_parts(sim, central, tmp_path):
    sim.clear("all")
    sim.paper("ok")
    sim.set_temperature(36.5)
    sim.remove("idcard")
    sim.devices["code_service"].clear_colour()
    shows: list[Show] = []
    return sim, central, tmp_path, shows


def test_register_imported_at_the_central_gives_a_priority_ticket_at_the_hall(hall_parts):
    sim, central, tmp_path, shows = hall_parts
    veteran = persona_where(veteran=True, code_colour="green")
    central_import(central.db, "priority_register",
                   write_json(tmp_path / "register.json", build_register(personas.load(), KEY)))
    (tmp_path / "config.csv").write_text(f"name,value\n{PERSON_KEY_CHECK},{key_check(KEY)}\n", encoding="utf-8")
    central_import(central.db, "terminal_config", tmp_path / "config.csv")
    app = open_hall(hall_config(sim, central, tmp_path), speaker=Speaker(volume=60, player=None),
                    serve_lan=False, on_show=shows.append)
    try:
        register = app.terminal.services.priority
        assert register is not None
        wait_until(lambda: register.lookup(veteran.id_number, None, TODAY).is_priority, 30,
                   what="the pulled register at the hall")
        app.terminal.ui("service:A")  # service first, as a resident does
        wait_until(lambda: any(s.screen == "present" for s in shows), 10, what="the present screen")
        sim.present("idcard", veteran.persona_id)
        wait_until(lambda: any(s.screen == "ticket" for s in shows), 20, what="a ticket")
        ticket = next(s for s in shows if s.screen == "ticket")
        assert ticket.data["priority"] is True
        assert app.queue.open_ticket("A", person_key(veteran.id_number, KEY)) is not None
    finally:
        app.close()


def test_issuer_key_imported_at_the_central_verifies_a_token_at_the_hall(hall_parts):
    sim, central, tmp_path, shows = hall_parts
    resident = persona_where(code_colour="green")
    token = CENTRAL_ISSUER.issue(resident.id_number, "green")
    app = open_hall(hall_config(sim, central, tmp_path), speaker=Speaker(volume=60, player=None),
                    serve_lan=False)
    try:
        tokens = app.terminal.services.tokens
        outcome = tokens.verify(token)
        assert isinstance(outcome, TokenRefusal) and outcome.reason == "token_unknown_key"
        central_import(central.db, "issuer_key", write_json(tmp_path / "keys.json", [
            {"key_id": CENTRAL_ISSUER.kid, "issuer": CENTRAL_ISSUER.name, "alg": "Ed25519",
             "public_key": CENTRAL_ISSUER.public_key_b64()}]))
        assert app.sync is not None
        app.sync.sync_once(pull=True)
        outcome = tokens.verify(token)
        assert isinstance(outcome, CodeStatus), outcome
        assert outcome.colour == "green" and outcome.person_id_number == resident.id_number
    finally:
        app.close()


# -- the read API over a store the sync client filled -----------------------------------------


def register_rows(*people: tuple[str, list[str]]) -> list[tuple[str, dict]]:
    rows = []
    for id_number, groups in people:
        h = person_key(id_number, KEY)
        rows.append((h, {"h": h, "groups": groups}))
    return rows


VETERAN_ID = "310106195501011234"
DISABLED_ID = "310106196002021234"


def test_a_malformed_pulled_entry_keeps_the_previous_register(tmp_path, central, caplog):
    store, client = pulled_store(tmp_path, central)
    ref = ReferenceData(store, watch=False)
    register = ref.live_register(KEY)
    central.load(SITE, "priority_register", register_rows((VETERAN_ID, ["veteran"])))
    client.pull_changes()
    assert register.lookup(VETERAN_ID, None, TODAY).reasons == ("veteran",)
    good = ref.version("priority_register")

    # The central's storage takes rows its importer would refuse; the terminal must not trust them.
    h = person_key(DISABLED_ID, KEY)
    central.load(SITE, "priority_register", [(h, {"h": h, "groups": ["astronaut"]})])
    with caplog.at_level(logging.ERROR, logger="kiosk.reference"):
        client.pull_changes()
        assert ref.version("priority_register") > good
        assert register.lookup(VETERAN_ID, None, TODAY).reasons == ("veteran",)
        assert register.lookup(DISABLED_ID, None, TODAY).reasons == ()
        assert len(register) == 1
    refused = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(refused) == 1, "logged once per version, not per lookup"
    assert "priority_register" in refused[0].getMessage() and "keeping the previous data" in refused[0].getMessage()
    assert "astronaut" in refused[0].getMessage()

    central.load(SITE, "priority_register", [(h, {"h": h, "groups": ["disabled"]})])
    client.pull_changes()
    assert register.lookup(DISABLED_ID, None, TODAY).reasons == ("disabled",)
    assert register.lookup(VETERAN_ID, None, TODAY).reasons == ("veteran",)
    ref.close()
    store.close()


def test_a_register_of_another_deployment_key_is_refused_not_silently_matched(tmp_path, central, caplog):
    store, client = pulled_store(tmp_path, central)
    ref = ReferenceData(store, watch=False)
    central.load(SITE, "priority_register", register_rows((VETERAN_ID, ["veteran"])))
    client.pull_changes()
    assert ref.priority_register(KEY) is not None
    central.load(SITE, "terminal_config", [(PERSON_KEY_CHECK, {"name": PERSON_KEY_CHECK,
                                                               "value": key_check(b"another-deployment-key")})])
    with caplog.at_level(logging.ERROR, logger="kiosk.reference"):
        client.pull_changes()
        register = ref.priority_register(KEY)
    assert register is not None and register.groups_of(person_key(VETERAN_ID, KEY)) == ("veteran",)
    assert any("another deployment key" in r.getMessage() for r in caplog.records)
    ref.close()
    store.close()


def test_the_file_seed_applies_only_while_the_feed_has_no_register(tmp_path, central, caplog):
    store, client = pulled_store(tmp_path, central)
    ref = ReferenceData(store, watch=False)
    seed = PriorityRegister(KEY, {person_key(DISABLED_ID, KEY): ["disabled"]})
    register = ref.live_register(KEY, seed)
    assert register.lookup(DISABLED_ID, None, TODAY).reasons == ("disabled",)
    assert not register.from_source

    central.load(SITE, "priority_register", register_rows((VETERAN_ID, ["veteran"])))
    client.pull_changes()
    assert register.lookup(VETERAN_ID, None, TODAY).reasons == ("veteran",)
    assert register.lookup(DISABLED_ID, None, TODAY).reasons == ()  # the pulled register replaces the seed
    assert register.from_source

    with caplog.at_level(logging.WARNING, logger="kiosk.reference"):
        central.load(SITE, "priority_register", [(person_key(VETERAN_ID, KEY), None)])  # every row deleted
        client.pull_changes()
        assert register.lookup(DISABLED_ID, None, TODAY).reasons == ("disabled",)
    assert any("no priority_register rows" in r.getMessage() for r in caplog.records)
    ref.close()
    store.close()


def test_the_watcher_picks_up_a_pull_without_a_lookup(tmp_path, central):
    store, client = pulled_store(tmp_path, central)
    ref = ReferenceData(store, watch_interval_s=0.05)
    assert ref.trust_keys() is None  # the view exists from now on: the watcher keeps it fresh
    central.load(SITE, "issuer_key", [(CENTRAL_ISSUER.kid, {"key_id": CENTRAL_ISSUER.kid,
                                                            "public_key": CENTRAL_ISSUER.public_key_b64()})])
    client.pull_changes()
    view = ref._views["issuer_key"]
    wait_until(lambda: view.value is not None, 10, what="the watcher's re-parse")
    verifier = TokenVerifier(ref.live_trust())
    assert isinstance(verifier.verify(CENTRAL_ISSUER.issue(VETERAN_ID, "yellow")), CodeStatus)
    store.close()
    wait_until(lambda: not ref._thread.is_alive(), 10, what="the watcher ending with the store")


def test_typed_views_of_cards_blacklist_config_and_other_kinds(tmp_path, central, caplog):
    store, client = pulled_store(tmp_path, central)
    ref = ReferenceData(store, watch=False)
    assert ref.cards() is None and ref.blacklist() is None and dict(ref.config_values()) == {}
    assert dict(ref.entries("menu")) == {}
    central.load(SITE, "card", [("C001", {"card_no": "C001", "status": "active", "offline_limit_fen": 5000}),
                                ("C002", {"card_no": "C002", "status": "lost"})])
    central.load(SITE, "blacklist", [("C002", {"card_no": "C002", "reason": "reported lost"})])
    central.load(SITE, "menu", [("M1", {"item_id": "M1", "name": "红烧肉", "price_fen": 1200})])
    central.load(SITE, "terminal_config", [("idle_banner", {"name": "idle_banner", "value": "欢迎"})])
    before = ref.changes()
    client.pull_changes()
    assert ref.changes() > before
    cards = ref.cards()
    assert cards is not None and cards["C001"].usable and cards["C001"].offline_limit_fen == 5000
    assert not cards["C002"].usable
    blacklist = ref.blacklist()
    assert blacklist is not None and blacklist["C002"].reason == "reported lost"
    assert ref.entries("menu")["M1"]["price_fen"] == 1200
    assert ref.config_values()["idle_banner"] == "欢迎"
    with pytest.raises(ReferenceDataError):
        ref.entries("no_such_kind")

    central.load(SITE, "card", [("C003", {"card_no": "C003", "status": "stolen"})])
    central.load(SITE, "menu", [("M2", {"item_id": "M2", "name": "青菜", "price_fen": "cheap"})])
    with caplog.at_level(logging.ERROR, logger="kiosk.reference"):
        client.pull_changes()
        assert set(ref.cards() or {}) == {"C001", "C002"}
        assert set(ref.entries("menu")) == {"M1"}
    assert {"card", "menu"} <= {k for r in caplog.records for k in ("card", "menu") if f"{k} " in r.getMessage()}
    ref.close()
    store.close()


# -- the change counter in the store, and the cost of a lookup -----------------------------------


def page(cursor_from: int, *changes: tuple[str, str, dict | None]) -> ChangesResponse:
    rows = [Change(cursor=cursor_from + i + 1, kind=kind, key=key, op="upsert" if data is not None else "delete",
                   data=data) for i, (kind, key, data) in enumerate(changes)]
    return ChangesResponse(changes=rows, cursor=cursor_from + len(rows), more=False)


def test_each_kind_records_the_cursor_of_its_last_change_deletes_included(tmp_path):
    store = open_store(tmp_path)
    apply.apply_page(store, page(0, ("card", "C1", {"card_no": "C1", "status": "active"}),
                                 ("menu", "M1", {"item_id": "M1", "name": "面"})), 0)
    assert apply.reference_versions(store) == {"card": 1, "menu": 2}
    apply.apply_page(store, page(2, ("card", "C1", None)), 2)
    assert apply.reference_versions(store) == {"card": 3, "menu": 2}
    ref = ReferenceData(store, watch=False)
    assert (ref.version("card"), ref.version("menu"), ref.version("balance"), ref.changes()) == (3, 2, 0, 3)
    ref.close()
    store.close()


def test_a_lookup_does_not_reparse_the_register_and_stays_fast(tmp_path):
    store = open_store(tmp_path)
    people = [f"310106{1940 + i % 40}0101{i % 1000:03d}" for i in range(20_000)]
    rows = [("priority_register", person_key(n, KEY), {"h": person_key(n, KEY), "groups": ["special_care"]})
            for n in dict.fromkeys(people)]
    apply.apply_page(store, page(0, *rows), 0)
    ref = ReferenceData(store, watch=False)
    register = ref.live_register(KEY)
    first = ref.priority_register(KEY)
    with store.action() as act:  # an unrelated commit (a ticket, a visit) must not cost a re-parse
        act.emit("test.unrelated", {"n": 1})
    assert ref.priority_register(KEY) is first
    times = []
    for n in people[:2000]:
        start = time.perf_counter()
        assert register.lookup(n, None, dt.date(2025, 3, 1)).is_priority
        times.append(time.perf_counter() - start)
    times.sort()
    assert times[int(len(times) * 0.99)] < 0.002, f"p99 {times[int(len(times) * 0.99)] * 1000:.2f} ms"
    ref.close()
    store.close()


def test_the_trust_seed_applies_while_the_feed_has_no_issuer_keys(tmp_path):
    store = open_store(tmp_path)
    ref = ReferenceData(store, watch=False)
    seed_issuer = Issuer.from_seed("seed-1", "seed", "seed-issuer")
    seed = TrustList.from_document({"keys": [{"kid": "seed-1", "public_key": seed_issuer.public_key_b64()}]})
    verifier = TokenVerifier(ref.live_trust(seed))
    assert isinstance(verifier.verify(seed_issuer.issue(VETERAN_ID, "green")), CodeStatus)
    apply.apply_page(store, page(0, ("issuer_key", CENTRAL_ISSUER.kid, {
        "key_id": CENTRAL_ISSUER.kid, "public_key": CENTRAL_ISSUER.public_key_b64()})), 0)
    assert isinstance(verifier.verify(CENTRAL_ISSUER.issue(VETERAN_ID, "green")), CodeStatus)
    refused = verifier.verify(seed_issuer.issue(VETERAN_ID, "green"))
    assert isinstance(refused, TokenRefusal) and refused.reason == "token_unknown_key"
    ref.close()
    store.close()


def test_the_simulators_reference_imports_at_the_central_and_reads_back_at_a_terminal(sim, central, tmp_path):
    files = write_central_import(sim, tmp_path / "import", KEY)
    for kind, path in files.items():
        central_import(central.db, kind, path)
    store, client = pulled_store(tmp_path, central)
    client.pull_changes()
    ref = ReferenceData(store, watch=False)
    register = ref.priority_register(KEY)
    expected = build_register(sim.population, KEY)["entries"]
    assert register is not None and len(register) == len(expected) > 0
    trust = ref.trust_keys()
    assert trust is not None and trust.kids() == [k["kid"] for k in sim.trust_list()["keys"]]
    ref.close()
    store.close()


def test_a_store_pulled_before_the_versions_table_gets_them_from_what_it_holds(tmp_path):
    store = open_store(tmp_path)
    apply.apply_page(store, page(0, ("card", "C1", {"card_no": "C1", "status": "active"}),
                                 ("card", "C2", {"card_no": "C2", "status": "lost"}),
                                 ("menu", "M1", {"item_id": "M1", "name": "面"})), 0)
    with store.action() as act:  # the store as a terminal of the previous version left it
        act.db.execute("DROP TABLE reference_versions")
        act.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'sync_m003_reference_versions'")
    store.close()
    store = open_store(tmp_path)
    assert apply.reference_versions(store) == {"card": 2, "menu": 3}
    ref = ReferenceData(store, watch=False)
    cards = ref.cards()
    assert cards is not None and set(cards) == {"C1", "C2"}
    ref.close()
    store.close()
