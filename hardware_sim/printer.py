"""A simulated ESC/POS thermal ticket printer on a pty: answers real-time status, prints what it is sent.

Two things happen to every byte the host writes, as in a real printer:

* **On receipt** the stream is scanned for ``DLE EOT n`` (``10 04 n``, n = 1…4), which is
  answered at once with one status byte — even while a page is printing, and even when
  the sequence sits inside other data (real printers do that too).
* **In order** the bytes go to an :class:`~hardware_sim.escpos_stream.EscPosInterpreter`;
  every cut makes a page, which a print-engine thread "prints": it waits the timing
  mode's ``printer.print`` delay (≈1 s realistic, 0 fast), then renders a transcript and
  a PNG (:mod:`hardware_sim.escpos_render`) and appends a :class:`PrintedTicket`.

Status bytes (Epson ESC/POS, fixed bits 1 and 4 set): n=1 bit3 offline; n=2 bit2 cover
open, bit5 stopped by paper end, bit6 error; n=3 no error bits; n=4 bits 2-3 near end,
bits 5-6 paper end.  Paper out or cover open makes the printer offline; a page that
reaches the engine then is not printed (noted in the traffic log and ``pages_lost``).

Faults: the serial ones apply to status answers (``truncated`` on a one-byte answer
sends nothing; ``bad_checksum`` flips every bit, breaking the fixed bits); and
``paper_out_mid_print``: the next page stops halfway, is cut short, and the paper is out.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hardware_sim.escpos_render import render_png, transcript
from hardware_sim.escpos_stream import EscPosInterpreter, Page
from hardware_sim.serial_sim import SerialSimDevice
from hardware_sim.timing import Timing
from hardware_sim.traffic import TrafficLog

PAPER_STATES = ("ok", "near_end", "out")
ENGINE_POLL_S = 0.1  # how often the print engine checks for stop, in seconds
MAX_TICKETS = 200  # printed pages kept in memory


@dataclass(frozen=True)
class PrintedTicket:
    """One page as it came out of the printer."""

    text: str  # transcript
    png: bytes  # rendered paper
    printed_at: float  # time.time()
    complete: bool  # False when the paper ran out before the cut


class PrinterSim(SerialSimDevice):
    """An 80 mm ESC/POS receipt printer with paper sensors, a cover and a cutter."""

    kind: ClassVar[str] = "printer"
    extra_faults: ClassVar[frozenset[str]] = frozenset({"paper_out_mid_print"})

    def __init__(self, name: str, link_path: Path, timing: Timing = Timing.FAST,
                 traffic: TrafficLog | None = None, baud: int = 9600):
        super().__init__(name, link_path, timing, traffic)
        self.baud = baud  # written to the terminal config; a pty ignores it
        self.paper = "ok"
        self.cover_open = False
        self.pages_lost = 0
        self.pages_printed = 0  # since the device was made (``tickets`` keeps only the last MAX_TICKETS)
        self._interpreter = EscPosInterpreter()
        self._tail = b""  # last bytes received, to find DLE EOT split across reads
        self._tickets: list[PrintedTicket] = []
        self._printed = threading.Condition()
        self._jobs: queue.Queue[Page] = queue.Queue()
        self._engine: threading.Thread | None = None
        self._engine_stop = threading.Event()

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Plug in and start the print engine."""
        super().start()
        if self._engine is None:
            self._engine_stop.clear()
            self._engine = threading.Thread(target=self._engine_loop, name=f"sim-{self.name}-engine", daemon=True)
            self._engine.start()

    def stop(self) -> None:
        """Unplug and stop the print engine."""
        super().stop()
        self._engine_stop.set()
        if self._engine is not None:
            self._engine.join(timeout=5)
            self._engine = None

    def plug(self) -> None:
        """Plug in: a new pty is a printer just switched on (modes and half-received data forgotten)."""
        self._interpreter.power_on()
        self._tail = b""
        super().plug()

    def config_entry(self) -> dict[str, Any]:
        """The ``[devices.printer]`` table of a terminal config."""
        return {"port": str(self.link_path), "baud": self.baud}

    # -- control --------------------------------------------------------------------------
    def set_paper(self, state: str) -> None:
        """Load paper ("ok"), let it run low ("near_end") or take it out ("out")."""
        if state not in PAPER_STATES:
            raise ValueError(f"paper state must be one of {', '.join(PAPER_STATES)}, not {state!r}")
        self.paper = state
        self.traffic.event(self.name, f"paper {state}")

    def set_cover(self, open: bool) -> None:
        """Open or close the cover."""
        self.cover_open = bool(open)
        self.traffic.event(self.name, "cover open" if open else "cover closed")

    @property
    def tickets(self) -> list[PrintedTicket]:
        """Pages printed so far, oldest first."""
        with self._printed:
            return list(self._tickets)

    def last_ticket(self) -> PrintedTicket | None:
        """The latest printed page, or None."""
        with self._printed:
            return self._tickets[-1] if self._tickets else None

    def wait_for_tickets(self, count: int, timeout_s: float) -> bool:
        """Wait until ``pages_printed`` reaches ``count``; False on timeout."""
        with self._printed:
            return self._printed.wait_for(lambda: self.pages_printed >= count, timeout=timeout_s)

    def clear_tickets(self) -> None:
        """Forget the printed pages."""
        with self._printed:
            self._tickets.clear()

    def device_status(self) -> dict[str, Any]:
        """Paper, cover, pages printed and lost, and the last page's transcript."""
        last = self.last_ticket()
        return {"paper": self.paper, "cover_open": self.cover_open, "pages_printed": self.pages_printed,
                "pages_lost": self.pages_lost, "last_ticket": last.text if last else None,
                "baud": self.baud}

    # -- status bytes ---------------------------------------------------------------------
    @property
    def offline(self) -> bool:
        """Paper out or cover open stops the printer."""
        return self.paper == "out" or self.cover_open

    def status_byte(self, n: int) -> int:
        """The answer to DLE EOT ``n`` for the current state."""
        value = 0x12
        if n == 1 and self.offline:
            value |= 0x08
        elif n == 2:
            value |= (0x04 if self.cover_open else 0) | (0x20 if self.paper == "out" else 0)
        elif n == 4:
            value |= {"ok": 0x00, "near_end": 0x0C, "out": 0x6C}[self.paper]
        return value

    def corrupt_checksum(self, frame: bytes) -> bytes:
        """A status byte has no checksum: every bit is flipped, so its fixed bits are wrong."""
        return bytes(b ^ 0xFF for b in frame)

    # -- bytes from the host --------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        """Answer DLE EOT at once, then interpret the stream in order."""
        seen = self._tail + data
        for i in range(len(seen) - 2):
            if seen[i] == 0x10 and seen[i + 1] == 0x04 and 1 <= seen[i + 2] <= 4 and i + 2 >= len(self._tail):
                self._answer_status(seen[i + 2])
        self._tail = seen[-2:]
        for page in self._interpreter.feed(data):
            self._jobs.put(page)

    def _answer_status(self, n: int) -> None:
        if self.faults.take("truncated"):
            self.requests += 1
            self.traffic.event(self.name, f"fault truncated: no byte for DLE EOT {n}")
            return
        self.send(bytes([self.status_byte(n)]), "printer.status")

    # -- print engine ---------------------------------------------------------------------
    def _engine_loop(self) -> None:
        while not self._engine_stop.is_set():
            try:
                page = self._jobs.get(timeout=ENGINE_POLL_S)
            except queue.Empty:
                continue
            self._print(page)

    def _print(self, page: Page) -> None:
        if self.offline:
            self.pages_lost += 1
            self.traffic.event(self.name, f"{'paper out' if self.paper == 'out' else 'cover open'}: page not printed")
            return
        delay = self.timing.delay("printer.print")
        if self.faults.take("paper_out_mid_print"):
            time.sleep(delay / 2)
            page = Page(page.items[: max(1, len(page.items) // 2)], complete=False)
            self.set_paper("out")
            self.traffic.event(self.name, "fault paper_out_mid_print: page cut short")
        elif delay:
            time.sleep(delay)
        ticket = PrintedTicket(transcript(page), render_png(page), time.time(), page.complete)
        with self._printed:
            self._tickets.append(ticket)
            del self._tickets[:-MAX_TICKETS]
            self.pages_printed += 1
            self._printed.notify_all()
        self.traffic.event(self.name, f"printed page {len(ticket.text.splitlines())} lines"
                                      f"{'' if page.complete else ' (cut short)'}")
