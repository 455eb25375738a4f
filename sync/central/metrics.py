"""``/metrics`` in the Prometheus text format (version 0.0.4), with no client library.

Counters and the latency histogram live in the process: with ``--workers N`` each worker
counts its own requests (Prometheus sums them when each worker is scraped; behind one port a
scrape sees one worker).  The terminal gauges (highest seq, missing seqs, outbox length,
last heartbeat) are read from the database at scrape time, so every worker reports all of them.

``/metrics`` is open to whoever reaches the port, so by default it shows the terminal gauges
*aggregated* (sums, the oldest heartbeat, counts by state), without any terminal id or site
name; with the admin token (``Authorization: Bearer <admin token>``) it shows them per terminal.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Mapping, Sequence

from .storage import TerminalState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Upper bounds of the request latency histogram, in seconds.
LATENCY_BUCKETS_S: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


class Counter:
    """A monotonically increasing count, optionally split by labels."""

    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...] = ()) -> None:
        """A counter called ``name`` with the given label names."""
        self.name, self.help, self.label_names = name, help_text, label_names
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0, *labels: str) -> None:
        """Add ``amount`` (≥ 0) for the label values ``labels``."""
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        """The current count for ``labels``."""
        with self._lock:
            return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        """The exposition lines."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            items = sorted(self._values.items()) or ([((), 0.0)] if not self.label_names else [])
        for labels, value in items:
            lines.append(f"{self.name}{_labels(list(zip(self.label_names, labels, strict=True)))} {_number(value)}")
        return lines


class Histogram:
    """Observations counted into cumulative buckets."""

    def __init__(self, name: str, help_text: str, buckets: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        """A histogram called ``name`` with upper bounds ``buckets``."""
        self.name, self.help = name, help_text
        self.bounds = tuple(sorted(buckets))
        self._counts = [0] * (len(self.bounds) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        """Count one observation."""
        with self._lock:
            for i, bound in enumerate(self.bounds):
                if value <= bound:
                    self._counts[i] += 1
                    break
            else:
                self._counts[-1] += 1
            self._sum += value

    @property
    def count(self) -> int:
        """Observations so far."""
        with self._lock:
            return sum(self._counts)

    def render(self) -> list[str]:
        """The exposition lines (cumulative buckets, sum, count)."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            counts, total = list(self._counts), self._sum
        running = 0
        for bound, count in zip((*self.bounds, math.inf), counts, strict=True):
            running += count
            lines.append(f'{self.name}_bucket{{le="{_number(bound)}"}} {running}')
        lines += [f"{self.name}_sum {_number(total)}", f"{self.name}_count {running}"]
        return lines


class CentralMetrics:
    """Everything ``/metrics`` shows."""

    def __init__(self) -> None:
        """Fresh counters (per process)."""
        self.events_stored = Counter("linfen_central_events_stored_total", "Events stored for the first time.")
        self.events_duplicate = Counter("linfen_central_events_duplicate_total",
                                        "Events received again with the same body (original ack returned).")
        self.events_conflict = Counter("linfen_central_events_conflict_total",
                                       "Events refused: same id with another body, or a seq already used.")
        self.push_requests = Counter("linfen_central_push_requests_total", "Push requests by HTTP status.",
                                     ("status",))
        self.requests = Counter("linfen_central_http_requests_total", "HTTP requests by route and status.",
                                ("route", "status"))
        self.refusals = Counter("linfen_central_refusals_total", "Requests refused, by reason.", ("reason",))
        self.push_seconds = Histogram("linfen_central_push_seconds",
                                      "Push request latency (body read to answer), in seconds.")

    def render(self, states: Sequence[TerminalState], schema_versions: Mapping[str, int] | None,
               per_terminal: bool = False) -> str:
        """The whole exposition text: counters, terminal gauges from ``states`` (per terminal only when
        ``per_terminal``, else aggregated without ids) and each module's schema version."""
        lines: list[str] = []
        for metric in (self.events_stored, self.events_duplicate, self.events_conflict, self.push_requests,
                       self.requests, self.refusals, self.push_seconds):
            lines += metric.render()
        lines += _terminal_gauges(states) if per_terminal else _aggregate_gauges(states)
        name = "linfen_central_terminals"
        lines += [f"# HELP {name} Enrolled terminals by state.", f"# TYPE {name} gauge",
                  f'{name}{{state="active"}} {sum(1 for s in states if not s.revoked)}',
                  f'{name}{{state="revoked"}} {sum(1 for s in states if s.revoked)}']
        if schema_versions is not None:
            name = "linfen_central_schema_version"
            lines += [f"# HELP {name} Database schema version of each module.", f"# TYPE {name} gauge"]
            lines += [f"{name}{_labels([('module', module)])} {version}" for module, version in schema_versions.items()]
        return "\n".join(lines) + "\n"


def _aggregate_gauges(states: Sequence[TerminalState]) -> list[str]:
    """Sums and extremes over every terminal, naming none."""
    beats = [dt.datetime.fromisoformat(s.last_heartbeat).timestamp() for s in states if s.last_heartbeat]
    gauges = (
        ("linfen_central_missing_seqs", "Seq numbers below their terminal's highest not yet stored, all terminals.",
         sum(s.missing for s in states)),
        ("linfen_central_terminals_with_gaps", "Terminals with at least one missing seq.",
         sum(1 for s in states if s.missing)),
        ("linfen_central_outbox_pending", "Outbox lengths in the last heartbeats, summed.",
         sum(s.outbox_pending or 0 for s in states)),
        ("linfen_central_quarantined_events", "Outbox events terminals refused for good (last heartbeats, summed).",
         sum(s.quarantined_events for s in states)),
        ("linfen_central_skipped_reference_changes",
         "Reference changes terminals could not apply and skipped (last heartbeats, summed).",
         sum(s.skipped_changes for s in states)),
        ("linfen_central_max_feed_age_seconds",
         "The furthest behind any terminal's deny list and balances may be (last heartbeats; 0 when none says).",
         max((s.feed_age_s for s in states if s.feed_age_s is not None), default=0)),
        ("linfen_central_oldest_last_heartbeat_timestamp_seconds",
         "The oldest of the terminals' last heartbeats (Unix time; 0 when none has beaten).", min(beats, default=0)),
    )
    lines: list[str] = []
    for name, help_text, value in gauges:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {_number(value)}"]
    return lines


def _terminal_gauges(states: Sequence[TerminalState]) -> list[str]:
    """One sample per terminal, labelled with its id and site (admin only)."""
    lines: list[str] = []
    gauges = (
        ("linfen_central_terminal_highest_seq", "Highest seq stored per terminal.", lambda s: s.highest_seq),
        ("linfen_central_terminal_missing_seqs", "Seq numbers below the highest not yet stored.",
         lambda s: s.missing),
        ("linfen_central_terminal_quarantined_events", "Outbox events refused for good (last heartbeat).",
         lambda s: s.quarantined_events),
        ("linfen_central_terminal_skipped_reference_changes", "Reference changes skipped (last heartbeat).",
         lambda s: s.skipped_changes),
    )
    for name, help_text, get in gauges:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f"{name}{_labels([('terminal', s.terminal_id), ('site', s.site)])} {get(s)}" for s in states]
    name = "linfen_central_terminal_outbox_pending"
    lines += [f"# HELP {name} Outbox length in the terminal's last heartbeat.", f"# TYPE {name} gauge"]
    lines += [f"{name}{_labels([('terminal', s.terminal_id), ('site', s.site)])} {s.outbox_pending}"
              for s in states if s.outbox_pending is not None]
    name = "linfen_central_terminal_feed_age_seconds"
    lines += [f"# HELP {name} How far behind the terminal's deny list and balances may be (last heartbeat).",
              f"# TYPE {name} gauge"]
    lines += [f"{name}{_labels([('terminal', s.terminal_id), ('site', s.site)])} {_number(s.feed_age_s)}"
              for s in states if s.feed_age_s is not None]
    name = "linfen_central_terminal_last_heartbeat_timestamp_seconds"
    lines += [f"# HELP {name} When the terminal's last heartbeat arrived (Unix time).", f"# TYPE {name} gauge"]
    lines += [f"{name}{_labels([('terminal', s.terminal_id), ('site', s.site)])} "
              f"{_number(dt.datetime.fromisoformat(s.last_heartbeat).timestamp())}"
              for s in states if s.last_heartbeat]
    return lines
