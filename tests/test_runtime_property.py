"""The runtime and the hall flow under random events, exceptions and silences: never stuck, always timed.

Hypothesis drives residents, clicks, clock jumps and the answers of every effect handler —
a plausible answer, an exception, or silence (a worker that never finishes) — through the
real :class:`~kiosk.runtime.TerminalRuntime` and :class:`~kiosk.hall.checkin.flow.CheckInFlow`.
After every step the flow is idle or in a state with a deadline still ahead; at the end, with
every pending worker silent for good, time alone brings it back to the idle screen.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.hall.checkin import events as ev
from kiosk.hall.checkin.flow import STATES, CheckInFlow
from kiosk.hall.checkin.terminal import HallDevices, HallTerminal
from kiosk.runtime import TerminalRuntime, Tick

pytestmark = pytest.mark.unit

EXAMPLES = 2000
PEOPLE = [ev.Identity("idcard", "310109199701046877", "张三明", "19970104"),
          ev.Identity("sscard", "31010919400101001X", "李四", "19400101"),
          ev.Identity("qr_camera", "310109198001010015")]


class ManualExecutor(Executor):
    """Holds every submitted job until the test completes it, fails it, or leaves it silent."""

    def __init__(self) -> None:
        self.pending: list[tuple[Future[Any], Any, tuple[Any, ...]]] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.pending.append((future, fn, args))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pending.clear()

    def complete(self, index: int) -> None:
        future, fn, args = self.pending.pop(index % len(self.pending))
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)


class Boom(RuntimeError):
    """An exception a handler raises on purpose."""


def _answers(data: st.DataObject) -> dict[type, Any]:
    """A handler per effect type that answers, raises, or stays silent as hypothesis draws."""

    def behaving(answer: Any) -> Any:
        def handler(effect: Any) -> Any:
            how = data.draw(st.sampled_from(["answer"] * 6 + ["raise", "silent"]))
            if how == "raise":
                raise Boom(f"{type(effect).__name__} failed on purpose")
            return None if how == "silent" else answer(effect)
        return handler

    return {
        ev.MeasureTemperature: behaving(lambda e: data.draw(st.one_of(
            st.builds(ev.TemperatureMeasured, st.floats(35.0, 39.5)), st.just(ev.TemperatureFailed("no answer"))))),
        ev.LookupCode: behaving(lambda e: ev.CodeResult(
            data.draw(st.sampled_from(["green", "green", "yellow", "red", None])), "lookup", "staff_check")),
        ev.LookupPriority: behaving(lambda e: ev.PriorityResult(())),
        ev.CheckOpenTicket: behaving(lambda e: ev.OpenTicketResult(data.draw(st.sampled_from([None, None, "A003"])))),
        ev.IssueTicket: behaving(lambda e: data.draw(st.sampled_from([
            ev.TicketIssued("A001", e.service, 2, 10, False, e.staff_check, False, e.visit),
            ev.TicketRefusedByQueue("cap", "号已取完", "All taken", e.visit)]))),
        ev.PrintTicket: behaving(lambda e: ev.PrintDone(data.draw(st.booleans()), "")),
        ev.Say: behaving(lambda e: None),
        ev.Alert: behaving(lambda e: None),
        ev.LogVisit: behaving(lambda e: None),
        ev.Measure: behaving(lambda e: None),
    }


ACTIONS = st.one_of(
    st.tuples(st.just("resident"), st.integers(0, len(PEOPLE) - 1), st.booleans()),
    st.tuples(st.just("tick"), st.floats(0.05, 25.0)),
    st.tuples(st.just("complete"), st.integers(0, 50)),
    st.tuples(st.just("complete_all"), st.just(0)),
    st.tuples(st.just("ui"), st.sampled_from(["reprint", "dismiss", "extend", "help", "service:A", "service:B",
                                              "closed:C"])),
    st.tuples(st.just("read_failed"), st.sampled_from(["card", "token_expired"])),
)

IO_EFFECTS = (ev.MeasureTemperature, ev.LookupCode, ev.CheckOpenTicket, ev.IssueTicket, ev.PrintTicket)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(ACTIONS, min_size=1, max_size=30), data=st.data())
def test_the_flow_is_always_idle_or_timed_and_time_alone_brings_it_home(actions, data):
    clock = [1000.0]
    flow = CheckInFlow()
    pool = ManualExecutor()
    runtime = TerminalRuntime("prop", flow, clock=lambda: clock[0], executor=pool)
    shown: list[ev.Show] = []
    runtime.on(ev.Show, shown.append)
    for effect_type, handler in _answers(data).items():
        (runtime.on_io if effect_type in IO_EFFECTS else runtime.on)(effect_type, handler)

    def tick() -> None:
        runtime.submit(Tick(clock[0]))
        runtime.run_pending()
        assert flow.state in STATES
        deadline = flow.deadline()
        assert flow.state == "idle" or (deadline is not None and deadline >= clock[0]), (flow.state, deadline)

    runtime.run_effects([ev.Show("idle")])
    tick()
    for action in actions:
        kind = action[0]
        if kind == "resident":
            person = PEOPLE[action[1]]
            code = ev.CodeResult("green", "token") if action[2] and person.source == "qr_camera" else None
            runtime.submit(ev.Identified(person, clock[0], code))
        elif kind == "tick":
            clock[0] += action[1]
        elif kind == "complete" and pool.pending:
            pool.complete(action[1])
        elif kind == "complete_all":
            while pool.pending:
                pool.complete(0)
                runtime.run_pending()
        elif kind == "ui" and action[1].startswith(("service:", "closed:")):
            code = action[1].split(":")[1]
            runtime.submit(ev.ServiceChosen(code, "业务", "Service", open=not action[1].startswith("closed:")))
        elif kind == "ui":
            runtime.submit(HallTerminal._ui_event(action[1]))
        elif kind == "read_failed":
            runtime.submit(ev.IdentificationFailed("idcard", action[1], "读卡没有成功", "failed"))
        tick()
    for _ in range(10):  # every worker still pending stays silent for good; only time passes (paper out: 600 s)
        clock[0] += 100.0
        tick()
    assert flow.state == "idle"
    assert shown and shown[-1].screen == "idle"


def test_every_hall_effect_has_a_handler():
    """The hall registers a handler for every effect its flow can ask for (none falls through)."""
    terminal = HallTerminal(HallDevices(), services=None)  # type: ignore[arg-type]
    effect_types = ev.Effect.__args__  # type: ignore[attr-defined]
    assert [t.__name__ for t in effect_types if not terminal.runtime.handles(t)] == []
    terminal.runtime.stop()
