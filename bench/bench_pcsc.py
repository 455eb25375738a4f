"""Social-security card full read and community card UID read through pcscd + vpcd, zero-delay cards.

``sscard_read_ms``: mean time of one ``SocialSecurityCardReader.read_card()`` on a
generation-3 card (connect, transaction, SELECT application, SELECT EF05, its 7 records,
SELECT EF06, its records, disconnect) with the card on the reader.  ``sscard_read_t0_ms``:
the same for a generation-1 card, which answers T=0 style (``6Cxx`` then ``61xx`` then GET
RESPONSE: three commands per record).  ``sscard_apdus_per_read``: commands in one
generation-3 read.  ``ccard_uid_ms``: mean ``CommunityCardReader.read_card()`` (connect,
GET DATA, disconnect).  ``pcsc_apdu_ms``: one bare ``SCardTransmit`` round trip on an open
connection, for scale.  pcscd is started with the simulator's readers, or a running one that
has them is reused.  Figures are printed, never asserted.
Run alone: ``python bench/bench_pcsc.py [--quick]``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.ccard import GET_UID, CommunityCardReader
from drivers.pcsc_link import PcscContext
from drivers.sscard import SocialSecurityCardReader
from hardware_sim.faults import FaultBoard
from hardware_sim.pcscd import PcscdHarness
from hardware_sim.personas import by_id
from hardware_sim.runner import CCARD_READER, PCSC_READERS, SSCARD_READER
from hardware_sim.sscard import CCARD_FAULTS, SSCARD_FAULTS, make_ccard, make_sscard

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


def _ccard_figures(harness: PcscdHarness, runs: int) -> dict[str, float]:
    connection = harness.card_connection(CCARD_READER)
    connection.insert(make_ccard(by_id(GEN3_PERSONA), FaultBoard("ccard", CCARD_FAULTS)))
    try:
        harness.wait_card(CCARD_READER, present=True)
        with CommunityCardReader(harness.pyscard_name(CCARD_READER)) as reader:
            uid = reader.read_card().uid
            if uid != by_id(GEN3_PERSONA).ccard_uid:
                raise RuntimeError(f"read UID {uid}, expected {by_id(GEN3_PERSONA).ccard_uid} ({GET_UID.hex()})")
            return {"ccard_uid_ms": round(_mean_ms(reader.read_card, runs), 3)}
    finally:
        connection.remove()
        harness.wait_card(CCARD_READER, present=False)


def run(quick: bool = False) -> dict[str, float]:
    """Measure the figures; ``quick`` takes fewer samples."""
    runs = 20 if quick else 300
    with PcscdHarness(PCSC_READERS) as harness:
        figures = _sscard_figures(harness, runs)
        figures.update(_ccard_figures(harness, runs))
    return figures


def main() -> int:
    """Print each figure, then all of them as one JSON object on the last line."""
    figures = run(quick="--quick" in sys.argv[1:])
    for key, value in figures.items():
        print(f"{key} = {value}")
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
