"""The terminal runtime: every failure of a handler or a worker reaches the flow; time is known from the start."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from kiosk.runtime import TerminalRuntime, Tick

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Go:
    effect: object


@dataclass(frozen=True)
class Quick:
    pass


@dataclass(frozen=True)
class Slow:
    pass


@dataclass(frozen=True)
class Orphan:
    pass


@dataclass(frozen=True)
class Answer:
    value: int


class RecordingFlow:
    """A flow that asks for whatever effect an event carries and records what it was told."""

    state = "idle"

    def __init__(self) -> None:
        self.events: list[object] = []
        self.failures: list[tuple[str, str]] = []
        self.done = threading.Event()

    def handle(self, event: object) -> list[object]:
        self.events.append(event)
        if isinstance(event, Answer):
            self.done.set()
        return [event.effect] if isinstance(event, Go) else []

    def fail(self, where: str, error: str) -> list[object]:
        self.failures.append((where, error))
        self.done.set()
        return []

    def deadline(self) -> float | None:
        return None


def _runtime(flow: RecordingFlow) -> TerminalRuntime:
    runtime = TerminalRuntime("test", flow, tick_s=0.05, clock=lambda: 42.0)
    runtime.on(Quick, lambda e: (_ for _ in ()).throw(OSError("screen gone")))
    runtime.on_io(Slow, lambda e: Answer(7))
    return runtime


def test_the_first_event_the_flow_sees_is_the_time():
    flow = RecordingFlow()
    runtime = _runtime(flow)
    runtime.submit(Go(Slow()))  # queued before start: still after the first tick
    runtime.start()
    assert flow.done.wait(3)
    runtime.stop()
    assert flow.events[0] == Tick(42.0)


@pytest.mark.parametrize("effect, where, words", [
    (Quick(), "Quick", "OSError: screen gone"),
    (Orphan(), "Orphan", "no handler registered for Orphan"),
])
def test_a_failing_or_missing_handler_reaches_the_flow_as_a_failure(effect, where, words):
    flow = RecordingFlow()
    runtime = _runtime(flow).start()
    runtime.submit(Go(effect))
    assert flow.done.wait(3)
    runtime.stop()
    assert flow.failures == [(where, words)]
    assert runtime.errors and where in runtime.errors[0]


def test_a_worker_that_raises_reaches_the_flow_and_one_that_answers_feeds_its_event():
    flow = RecordingFlow()
    runtime = _runtime(flow)
    runtime.on_io(Slow, lambda e: (_ for _ in ()).throw(TimeoutError("printer silent")))
    runtime.start()
    runtime.submit(Go(Slow()))
    assert flow.done.wait(3)
    runtime.stop()
    assert flow.failures == [("Slow", "TimeoutError: printer silent")]

    flow = RecordingFlow()
    runtime = _runtime(flow).start()
    runtime.submit(Go(Slow()))
    assert flow.done.wait(3)
    runtime.stop()
    assert Answer(7) in flow.events and flow.failures == []


def test_a_flow_that_raises_is_asked_to_fail_and_the_loop_goes_on():
    flow = RecordingFlow()
    original = flow.handle

    def handle(event: object) -> list[object]:
        if event == "bad":
            raise ValueError("bug")
        return original(event)

    flow.handle = handle  # type: ignore[method-assign]
    runtime = _runtime(flow).start()
    runtime.submit("bad")
    runtime.submit(Go(Slow()))
    assert flow.done.wait(3)
    runtime.stop()
    assert flow.failures[0] == ("str", "ValueError: bug")
    assert any(isinstance(e, Answer) for e in flow.events) or flow.failures
