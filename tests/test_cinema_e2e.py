"""The cinema over the real stack: pyscard → pcscd → vpcd ← simulated cards, a simulated printer on a pty, a real central.

Each test runs a real cinema terminal app (store, authenticating card reader, ticket printer,
sync client) with screenings imported at the central through its importer, and checks what reached
the resident's screen and voice, the paper, the terminal's store and the central: a free ticket
with an aisle seat for a 97-year-old; a priced ticket paid from the card and on the central's
ledger, free for a disabled resident; one ticket per card per screening; a full screening offers
the next; a clone refused; the door check by QR and by card, a second entry refused.

The central harness, card master key, personas' card rows and card slots are the canteen's
(:mod:`tests.canteen_support`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hardware_sim import personas
from hardware_sim.pcsc_slot import PcscCardSlot
from hardware_sim.pcscd import PcscdHarness
from hardware_sim.printer import PrinterSim
from hardware_sim.sscard import CCARD_FAULTS, make_ccard
from hardware_sim.traffic import TrafficLog
from kiosk.cinema.setup import open_cinema
from kiosk.config import load_config
from kiosk.runtime.screens import Show
from kiosk.voice import Speaker
from sync.central.importer import import_file
from tests.canteen_support import MASTER, SITE, CanteenWorld, Reader, card_row, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

VPCD = "Canteen VPCD"
OLD = "P009"  # born 1929: 97, an aisle seat
MIDDLE = "P013"  # born 1955: 71, any seat, pays
DISABLED = "P001"  # born 1996, in the disabled group: an aisle seat, free where disabled residents go free
YOUNG = "P002"  # born 2001
OTHER = "P011"  # born 1991
RESULTS = ("ticket", "refused", "full", "error")


def cards() -> list[dict[str, Any]]:
    """The personas' card rows with their disabled and special-care groups."""
    rows = []
    for p in personas.load():
        groups = [g for g, on in (("special_care", p.special_care), ("disabled", p.disabled)) if on]
        rows.append(card_row(p, groups=groups))
    return rows


class CinemaWorld:
    """The canteen world's central and cards, a printer on a pty, and a cinema terminal."""

    def __init__(self, tmp: Path, pcscd: PcscdHarness) -> None:
        self.tmp = tmp
        self.pcscd = pcscd
        self.world = CanteenWorld(tmp, pcscd, cards=cards())
        self.printer = PrinterSim("printer", tmp / "printer", traffic=TrafficLog())
        self.printer.start()
        self.now = dt.datetime.now().astimezone()
        self.reader: Reader | None = None

    def screenings(self, *rows: dict[str, Any]) -> None:
        """Import ``screening`` rows at the central through its importer (starts given in hours from now)."""
        out = []
        for row in rows:
            starts = (self.now + dt.timedelta(hours=row.pop("in_hours"))).replace(microsecond=0)
            out.append({"starts_at": starts.isoformat(), "hall": "一楼多功能厅", "price_fen": 0, **row})
        path = self.tmp / "screenings.json"
        path.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
        report = import_file(self.world.central.store, "screening", path, SITE)
        assert report.rejected == [], report.summary()

    def open(self, terminal_id: str = "cinema-1") -> Reader:
        """A running cinema terminal on the vpcd reader and the printer, enrolled and synced."""
        w = self.world
        token = self.tmp / f"{terminal_id}.token"
        token.write_text(w.central.enrol(terminal_id, SITE, role="cinema"))
        token.chmod(0o600)
        config_path = self.tmp / f"{terminal_id}.toml"
        config_path.write_text(f"""
role = "cinema"
terminal_id = "{terminal_id}"
site = "{SITE}"
central_url = "{w.central.url}"
[devices.ccard]
reader = "{self.pcscd.pyscard_name(VPCD)}"
[devices.printer]
port = "{self.printer.link_path}"
[card_keys]
master_key_file = "{w.key_file}"
[store]
path = "{self.tmp / terminal_id}.db"
[sync]
token_file = "{token}"
[cinema]
title = "临汾路街道党群服务中心"
""", encoding="utf-8")
        slot = PcscCardSlot("ccard", self.pcscd, VPCD, functools.partial(make_ccard, master_key=MASTER), CCARD_FAULTS)
        w.slots.append(slot)
        holder: dict[str, Reader] = {}
        app = open_cinema(load_config(config_path), speaker=Speaker(False, 0),
                          on_show=lambda s: holder["r"].on_show(s) if "r" in holder else None,
                          on_say=lambda k, p: holder["r"].on_say(k, p) if "r" in holder else None)
        reader = holder["r"] = Reader(app, slot)
        w.readers.append(reader)
        reader.sync()
        self.reader = reader
        return reader

    def take(self, persona: personas.Persona, screening_id: str) -> Show:
        """Choose the screening, tap the card, wait for the answer, lift the card, go home; the answer screen."""
        reader = self.reader
        assert reader is not None
        mark = len(reader.shows)
        reader.terminal.ui(f"screening:{screening_id}")
        first = wait_for(lambda: next((s for s in reader.shows[mark:] if s.screen in ("present", "full")), None),
                         what="the screening's screen")
        if first.screen == "full":
            return first
        reader.tap(persona)
        result = wait_for(lambda: next((s for s in reader.shows[mark:] if s.screen in RESULTS), None),
                          what="a ticket or a refusal")
        reader.lift()
        reader.terminal.ui("dismiss")
        return result

    def central_events(self, kind: str) -> list[dict[str, Any]]:
        """Payloads of the events of ``kind`` the central stored."""
        with self.world.central.store.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT payload FROM events WHERE type = ?", (kind,)).fetchall()
        return [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows]

    def close(self) -> None:
        self.world.close()
        self.printer.stop()


@pytest.fixture
def cinema(tmp_path, pcscd: PcscdHarness) -> Iterator[CinemaWorld]:
    c = CinemaWorld(tmp_path, pcscd)
    try:
        yield c
    finally:
        c.close()


def qr_of(printer: PrinterSim, count: int) -> str:
    """The QR text of the ``count``-th ticket printed."""
    assert printer.wait_for_tickets(count, 5), "the ticket was not printed"
    text = printer.tickets[count - 1].text
    found = re.search(r"\[QR\] (\S+)", text)
    assert found, text
    return found.group(1)


def test_a_97_year_old_takes_a_free_ticket_and_gets_an_aisle_seat_printed_with_a_qr(cinema):
    cinema.screenings({"screening_id": "free-1", "title": "地道战", "title_en": "Tunnel Warfare", "in_hours": 2,
                       "seats": 20, "row_seats": 5})
    reader = cinema.open()
    old, middle = cinema.world.persona(OLD), cinema.world.persona(MIDDLE)
    idle = wait_for(lambda: next((s for s in reader.shows if s.screen == "screenings" and s.data["screenings"]), None),
                    what="the idle screen with the pulled screening")  # drawn again once the pull brought it
    [item] = idle.data["screenings"]
    assert (item["title"], item["seats_left"], item["price_fen"], item["when_zh"][:2]) == ("地道战", 20, 0, "今天") \
        or item["when_zh"][:2] == "明天"  # two hours from now may be after midnight
    ticket = cinema.take(old, "free-1")
    assert ticket.screen == "ticket", ticket
    seat = ticket.data["ticket"]["seat"]
    assert seat == "1-1" and ticket.data["ticket"]["aisle"] is True and ticket.data["paid_zh"] == "这场免费。"
    assert "cinema_ticket" in reader.said() and "cinema_aisle" in reader.said()
    second = cinema.take(middle, "free-1")
    assert second.data["ticket"]["seat"] == "1-3" and second.data["ticket"]["aisle"] is False  # the middle seat
    qr = qr_of(cinema.printer, 1)
    assert re.fullmatch(r"LFC1:cinema-1:free-1:[0-9A-F]{12}", qr) and old.ccard_uid not in qr
    paper = cinema.printer.tickets[0].text
    assert "地道战" in paper and "1排1号" in paper and "免费" in paper and old.name not in paper
    reader.sync()
    pushed = cinema.central_events("cinema.ticket")
    assert sorted(p["seat"] for p in pushed) == ["1-1", "1-3"] and all(p["price_fen"] == 0 for p in pushed)


def test_a_priced_ticket_is_paid_from_the_card_and_on_the_ledger_and_free_for_a_disabled_resident(cinema):
    cinema.screenings({"screening_id": "paid-1", "title": "庐山恋", "in_hours": 3, "seats": 30, "row_seats": 6,
                       "price_fen": 500, "free_groups": ["disabled"]})
    middle, disabled = cinema.world.persona(MIDDLE), cinema.world.persona(DISABLED)
    cinema.world.topup(middle.ccard_uid, 10_000)
    reader = cinema.open()
    paid = cinema.take(middle, "paid-1")
    assert paid.screen == "ticket", paid
    assert paid.data["ticket"]["paid_fen"] == 500
    assert paid.data["ticket"]["balance_fen"] == 9500 and paid.data["paid_zh"] == "付了 5 元，卡里还有 95 元。"
    free = cinema.take(disabled, "paid-1")
    assert free.screen == "ticket" and free.data["ticket"]["paid_fen"] == 0 and free.data["ticket"]["aisle"] is True
    reader.sync()
    statement = cinema.world.statement(middle.ccard_uid)
    payments = [line for line in statement["lines"] if line["entry_type"] == "payment"]
    assert [line["amount_fen"] for line in payments] == [-500] and statement["balance_fen"] == 9500
    with pytest.raises(httpx.HTTPStatusError, match="404"):  # no movement at all on the disabled resident's card
        cinema.world.statement(disabled.ccard_uid)
    [pushed] = [p for p in cinema.central_events("cinema.ticket") if p["card_no"] == middle.ccard_uid]
    assert pushed["price_fen"] == 500 and pushed["payment_entry"] == paid.data["ticket"]["payment_entry"]


def test_one_ticket_per_card_per_screening_the_second_is_refused_with_its_seat_and_not_charged(cinema):
    cinema.screenings({"screening_id": "paid-1", "title": "庐山恋", "in_hours": 3, "seats": 30, "price_fen": 500})
    middle = cinema.world.persona(MIDDLE)
    cinema.world.topup(middle.ccard_uid, 10_000)
    reader = cinema.open()
    first = cinema.take(middle, "paid-1")
    assert first.screen == "ticket"
    again = cinema.take(middle, "paid-1")
    assert again.screen == "refused" and again.data["code"] == "already"
    assert again.data["seat_zh"] == f"{first.data['ticket']['seat'].replace('-', '排')}号"
    assert "cinema_already" in reader.said()
    assert cinema.printer.wait_for_tickets(1, 5)
    reader.terminal.ui("reprint")  # the refused screen is gone after dismiss: nothing is printed
    mark = len(reader.shows)
    reader.terminal.ui("screening:paid-1")
    reader.wait_screen("present", mark)
    reader.tap(middle)
    reader.wait_screen("refused", mark)
    reader.terminal.ui("reprint")
    assert cinema.printer.wait_for_tickets(2, 5)
    assert qr_of(cinema.printer, 2) == qr_of(cinema.printer, 1)  # the same ticket again, not a new one
    reader.lift()
    reader.sync()
    payments = [line for line in cinema.world.statement(middle.ccard_uid)["lines"] if line["entry_type"] == "payment"]
    assert len(payments) == 1 and len(cinema.central_events("cinema.ticket")) == 1
    assert cinema.printer.pages_printed == 2  # the ticket and its one reprint


def test_a_full_screening_says_so_and_offers_the_next_one_with_seats(cinema):
    cinema.screenings({"screening_id": "small-1", "title": "城南旧事", "in_hours": 1, "seats": 2, "row_seats": 2},
                      {"screening_id": "other-1", "title": "五朵金花", "in_hours": 2, "seats": 30},
                      {"screening_id": "small-2", "title": "城南旧事", "in_hours": 26, "seats": 30})
    reader = cinema.open()
    for pid in (YOUNG, OTHER):
        assert cinema.take(cinema.world.persona(pid), "small-1").screen == "ticket"
    full = cinema.take(cinema.world.persona(MIDDLE), "small-1")
    assert full.screen == "full" and full.data["offer"]["screening_id"] == "small-2"
    assert full.data["offer"]["seats_left"] == 30 and full.data["offer"]["when_zh"].startswith("明天")
    assert "cinema_full" in reader.said() and "cinema_full_next" in reader.said()
    listed = {s["screening_id"]: s["seats_left"] for s in reader.terminal.listing()}
    assert listed["small-1"] == 0
    taken = cinema.take(cinema.world.persona(MIDDLE), "small-2")  # "选这一场"
    assert taken.screen == "ticket" and taken.data["ticket"]["screening_id"] == "small-2"


def test_a_clone_is_refused_no_ticket_is_written_and_staff_are_told(cinema):
    cinema.screenings({"screening_id": "free-1", "title": "地道战", "in_hours": 2, "seats": 20})
    reader = cinema.open()
    old = cinema.world.persona(OLD)
    refused = cinema.take(personas.card_variant(old, "clone"), "free-1")
    assert refused.screen == "refused" and refused.data["code"] == "not_genuine"
    assert "cinema_not_genuine" in reader.said()
    assert reader.app.tickets.counts() == {}
    reader.sync()
    assert any(p.get("kind") == "card_not_genuine" for p in cinema.central_events("alert.raised"))
    assert cinema.take(old, "free-1").screen == "ticket"  # the genuine card still takes its ticket


def test_the_door_lets_a_ticket_in_once_by_qr_or_by_card_and_refuses_a_second_entry(cinema):
    cinema.screenings({"screening_id": "free-1", "title": "地道战", "in_hours": 1, "seats": 20},
                      {"screening_id": "free-2", "title": "英雄儿女", "in_hours": 4, "seats": 20})
    reader = cinema.open()
    old, middle, young = (cinema.world.persona(p) for p in (OLD, MIDDLE, YOUNG))
    assert cinema.take(old, "free-1").screen == "ticket"
    assert cinema.take(middle, "free-1").screen == "ticket"
    assert cinema.take(young, "free-2").screen == "ticket"
    old_qr, young_qr = qr_of(cinema.printer, 1), qr_of(cinema.printer, 3)
    mark = len(reader.shows)
    reader.terminal.ui("entry:free-1")
    reader.wait_screen("entry", mark)

    def check(do) -> Show:
        at = len(reader.shows)
        do()
        return reader.wait_screen("entry_result", at)

    ok = check(lambda: reader.terminal.scan(old_qr))
    assert ok.data["result"] == "ok" and ok.data["seat_zh"] == "1排1号"
    again = check(lambda: reader.tap(old))
    reader.lift()
    assert again.data["result"] == "again" and re.fullmatch(r"\d\d:\d\d", again.data["entered"])
    by_card = check(lambda: reader.tap(middle))
    reader.lift()
    assert by_card.data["result"] == "ok"
    assert check(lambda: reader.terminal.scan(young_qr)).data["result"] == "wrong_screening"
    assert check(lambda: reader.tap(young)).data["result"] == "no_ticket"
    reader.lift()
    forged = old_qr[:-1] + ("0" if old_qr[-1] != "0" else "1")
    assert check(lambda: reader.terminal.scan(forged)).data["result"] == "bad_qr"
    assert check(lambda: reader.terminal.scan("\x00" * 5000)).data["result"] == "bad_qr"
    assert check(lambda: reader.terminal.scan(old_qr)).data["result"] == "again"
    assert [k for k in reader.said() if k.startswith("cinema_entry_")][:2] == ["cinema_entry_ok", "cinema_entry_again"]
    reader.sync()
    entries = cinema.central_events("cinema.entry")
    assert len(entries) == 2 and {e["screening_id"] for e in entries} == {"free-1"}
