"""Social-security card full read and community card UID read through pcscd + vpcd, zero-delay cards.

``sscard_read_ms``: mean time of one ``SocialSecurityCardReader.read_card()`` on a
generation-3 card (connect, transaction, SELECT application, SELECT EF05, its 7 records,
SELECT EF06, its records, disconnect) with the card on the reader.  ``sscard_read_t0_ms``:
the same for a generation-1 card, which answers T=0 style (``6Cxx`` then ``61xx`` then GET
RESPONSE: three commands per record).  ``sscard_apdus_per_read``: commands in one
generation-3 read.  ``ccard_uid_ms``: mean ``CommunityCardReader.read_card()`` (connect,
GET DATA, disconnect).  ``ccard_uid_tap_p50_ms``/``_p95_ms``: the same per tap, UID only (the
counter's staff card); ``ccard_auth_tap_ms``/``_p50_ms``/``_p95_ms``: a tap on a canteen reader
holding the master key (GET DATA, SELECT, INTERNAL AUTHENTICATE with a fresh RndA, CMAC checks;
docs/community-card.md §1), and ``ccard_auth_apdus_per_tap``.  ``pcsc_apdu_ms``: one bare ``SCardTransmit`` round trip on an open
connection, for scale.  pcscd is started with the simulator's readers, or a running one that
has them is reused.  Figures are printed, never asserted.
Run alone: ``python bench/bench_pcsc.py [--quick] [--ccard]`` (``--ccard``: the community card only).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.ccard import GET_UID, CommunityCardReader
from drivers.ccard_auth import KEY_BYTES
from drivers.pcsc_link import PcscContext
from drivers.sscard import SocialSecurityCardReader
from hardware_sim.faults import FaultBoard
from hardware_sim.pcscd import PcscdHarness
from hardware_sim.personas import by_id
from hardware_sim.runner import CCARD_READER, PCSC_READERS, SSCARD_READER
from hardware_sim.sscard import CCARD_FAULTS, SSCARD_FAULTS, make_ccard, make_sscard
from hardware_sim.vpcd import VirtualCard

BENCH_MASTER_KEY = bytes(range(1, KEY_BYTES + 1))  # the cards and the reader share it; a bench key only
GEN3_PERSONA = "P002"
GEN1_PERSONA = "P006"
WARM_UP = 5  # untimed runs before each measurement


def _mean_ms(action: Callable[[], object], runs: int) -> float:
    for _ in range(WARM_UP):
        action()
    start = time.perf_counter()
    for _ in range(runs):
        action()
    return (time.perf_counter() - start) / runs * 1000


def _sscard_figures(harness: PcscdHarness, runs: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    connection = harness.card_connection(SSCARD_READER)
    with SocialSecurityCardReader(harness.pyscard_name(SSCARD_READER)) as reader:
        for key, persona in (("sscard_read_ms", GEN3_PERSONA), ("sscard_read_t0_ms", GEN1_PERSONA)):
            connection.insert(make_sscard(by_id(persona), FaultBoard("sscard", SSCARD_FAULTS)))
            try:
                harness.wait_card(SSCARD_READER, present=True)
                figures[key] = round(_mean_ms(reader.read_card, runs), 3)
                if persona == GEN3_PERSONA:
                    before = reader.apdus
                    reader.read_card()
                    figures["sscard_apdus_per_read"] = float(reader.apdus - before)
                    figures["pcsc_apdu_ms"] = round(_bare_apdu_ms(harness, runs * 10), 4)
            finally:
                connection.remove()
                harness.wait_card(SSCARD_READER, present=False)
    return figures


def _bare_apdu_ms(harness: PcscdHarness, runs: int) -> float:
    context = PcscContext("bench")
    try:
        link = context.connect(harness.pyscard_name(SSCARD_READER))
        try:
            return _mean_ms(lambda: link.transmit(bytes.fromhex("00A4020002EF05")), runs)
        finally:
            link.close()
    finally:
        context.release()


def _tap_ms(action: Callable[[], object], runs: int) -> list[float]:
    """Each run's time in milliseconds, after the warm-up."""
    for _ in range(WARM_UP):
        action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _p(times: list[float], percent: int) -> float:
    return round(statistics.quantiles(times, n=100, method="inclusive")[percent - 1], 3)


class _CountingCard(VirtualCard):
    """Passes every call to the card and counts the command APDUs."""

    def __init__(self, card: VirtualCard):
        self.card, self.apdus = card, 0

    def atr(self) -> bytes:
        return self.card.atr()

    def power_on(self) -> None:
        self.card.power_on()

    def power_off(self) -> None:
        self.card.power_off()

    def reset(self) -> None:
        self.card.reset()

    def apdu(self, cmd: bytes) -> bytes:
        self.apdus += 1
        return self.card.apdu(cmd)


def _ccard_figures(harness: PcscdHarness, runs: int) -> dict[str, float]:
    persona = by_id(GEN3_PERSONA)
    card = _CountingCard(make_ccard(persona, FaultBoard("ccard", CCARD_FAULTS), master_key=BENCH_MASTER_KEY))
    connection = harness.card_connection(CCARD_READER)
    connection.insert(card)
    try:
        harness.wait_card(CCARD_READER, present=True)
        name = harness.pyscard_name(CCARD_READER)
        with CommunityCardReader(name) as reader, CommunityCardReader(name, master_key=BENCH_MASTER_KEY) as canteen:
            uid = reader.read_card().uid
            if uid != persona.ccard_uid:
                raise RuntimeError(f"read UID {uid}, expected {persona.ccard_uid} ({GET_UID.hex()})")
            before = card.apdus
            if not canteen.read_card().authenticated:
                raise RuntimeError("the genuine card did not authenticate")
            apdus_per_tap = card.apdus - before
            figures = {"ccard_uid_ms": round(_mean_ms(reader.read_card, runs), 3)}
            uid_times = _tap_ms(reader.read_card, runs)
            auth_times = _tap_ms(canteen.read_card, runs)
            if canteen.cards_refused:
                raise RuntimeError("the genuine card was refused during the bench")
            figures.update({
                "ccard_uid_tap_p50_ms": _p(uid_times, 50), "ccard_uid_tap_p95_ms": _p(uid_times, 95),
                "ccard_auth_tap_ms": round(statistics.fmean(auth_times), 3),
                "ccard_auth_tap_p50_ms": _p(auth_times, 50), "ccard_auth_tap_p95_ms": _p(auth_times, 95),
                "ccard_auth_apdus_per_tap": float(apdus_per_tap),
            })
            return figures
    finally:
        connection.remove()
        harness.wait_card(CCARD_READER, present=False)


def run(quick: bool = False, ccard_only: bool = False) -> dict[str, float]:
    """Measure the figures; ``quick`` takes fewer samples, ``ccard_only`` skips the social-security card."""
    runs = 20 if quick else 300
    with PcscdHarness(PCSC_READERS) as harness:
        figures = {} if ccard_only else _sscard_figures(harness, runs)
        figures.update(_ccard_figures(harness, runs))
    return figures


def main() -> int:
    """Print each figure, then all of them as one JSON object on the last line."""
    figures = run(quick="--quick" in sys.argv[1:], ccard_only="--ccard" in sys.argv[1:])
    for key, value in figures.items():
        print(f"{key} = {value}")
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
