"""Calling rules (pure): strict priority, N:M ratio, max wait; examples plus hypothesis properties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.hall.calling import CallingRule, Waiting, people_ahead, pick_next, ratio_turn
from kiosk.hall.errors import HallConfigError

pytestmark = [pytest.mark.unit, pytest.mark.timeout(120)]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=8)))
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tk(ticket_id: int, priority: bool, minute: float) -> Waiting:
    return Waiting(ticket_id, priority, T0 + timedelta(minutes=minute))


def run_calls(waiting: list[Waiting], rule: CallingRule, calls: int, now: datetime,
              history: list[bool] | None = None) -> list[Waiting]:
    """Call ``calls`` times from a fixed pool, feeding each pick back into the history."""
    pool, hist, called = list(waiting), list(history or []), []
    for _ in range(calls):
        choice = pick_next(pool, hist, rule, now)
        if choice is None:
            break
        pool.remove(choice.ticket)
        hist.append(choice.ticket.priority)
        called.append(choice.ticket)
    return called


# -- examples ---------------------------------------------------------------------------------------------
def test_nobody_waiting_gives_none():
    assert pick_next([], [True, False], CallingRule("ratio"), T0) is None


def test_strict_calls_every_priority_ticket_first_in_issue_order():
    waiting = [tk(1, False, 0), tk(2, True, 5), tk(3, False, 1), tk(4, True, 3)]
    called = run_calls(waiting, CallingRule("strict"), 4, T0 + timedelta(minutes=10))
    assert [t.ticket_id for t in called] == [4, 2, 1, 3]


def test_ratio_two_to_one_alternates_p_p_n():
    waiting = [tk(i, i % 2 == 0, i) for i in range(1, 31)]
    called = run_calls(waiting, CallingRule("ratio", 2, 1), 12, T0 + timedelta(minutes=31))
    assert "".join("P" if t.priority else "N" for t in called) == "PPNPPNPPNPPN"


def test_ratio_one_to_two_as_novo_users_asked():
    waiting = [tk(i, i % 2 == 0, i) for i in range(1, 31)]
    called = run_calls(waiting, CallingRule("ratio", 1, 2), 9, T0 + timedelta(minutes=31))
    assert "".join("P" if t.priority else "N" for t in called) == "PNNPNNPNN"


def test_ratio_calls_the_other_kind_when_its_turn_has_nobody():
    choice = pick_next([tk(1, False, 0)], [False], CallingRule("ratio", 2, 1), T0)
    assert choice is not None and choice.ticket.ticket_id == 1 and choice.reason == "only_kind"


def test_max_wait_lets_the_longest_waiting_normal_ticket_go_first():
    rule = CallingRule("strict", max_wait_min=30)
    waiting = [tk(1, False, 0), tk(2, False, 10), tk(3, True, 20)]
    at_29 = pick_next(waiting, [], rule, T0 + timedelta(minutes=29))
    at_30 = pick_next(waiting, [], rule, T0 + timedelta(minutes=30))
    assert at_29 is not None and at_29.ticket.ticket_id == 3 and at_29.reason == "strict"
    assert at_30 is not None and at_30.ticket.ticket_id == 1 and at_30.reason == "max_wait"


def test_max_wait_does_not_let_a_newer_overdue_normal_pass_an_older_priority_ticket():
    rule = CallingRule("ratio", 1, 5, max_wait_min=10)
    choice = pick_next([tk(1, True, 0), tk(2, False, 1)], [True], rule, T0 + timedelta(minutes=40))
    assert choice is not None and choice.ticket.ticket_id == 1 and choice.reason == "max_wait"


def test_transferred_ticket_keeps_its_place_by_original_issue_time():
    # ticket 9 was transferred in later (higher id) but was issued first
    called = run_calls([tk(2, False, 5), tk(9, False, 1)], CallingRule("strict"), 2, T0 + timedelta(minutes=6))
    assert [t.ticket_id for t in called] == [9, 2]


def test_equal_issue_times_break_ties_by_ticket_id():
    called = run_calls([tk(5, False, 0), tk(3, False, 0)], CallingRule("strict"), 2, T0)
    assert [t.ticket_id for t in called] == [3, 5]


@pytest.mark.parametrize("kwargs, word", [
    ({"mode": "fifo"}, "mode"),
    ({"mode": "ratio", "priority_n": 0}, "priority_n"),
    ({"mode": "ratio", "normal_m": 2.5}, "normal_m"),
    ({"max_wait_min": -1}, "max_wait_min"),
    ({"max_wait_min": True}, "max_wait_min"),
])
def test_bad_rules_are_refused_naming_the_setting(kwargs, word):
    with pytest.raises(HallConfigError, match=word):
        CallingRule(**kwargs)


@pytest.mark.parametrize("priority, p_older, n_older, rule, ahead", [
    (False, 2, 5, CallingRule("strict"), 7),
    (True, 2, 5, CallingRule("strict"), 2),
    (True, 4, 5, CallingRule("ratio", 2, 1), 6),  # P P N P P N: two normals before the 5th priority ticket
    (True, 4, 1, CallingRule("ratio", 2, 1), 5),
    (False, 4, 3, CallingRule("ratio", 2, 1), 7),
])
def test_people_ahead_estimate(priority, p_older, n_older, rule, ahead):
    assert people_ahead(priority, p_older, n_older, rule) == ahead


def test_rule_from_config_data_and_its_description():
    rule = CallingRule.from_data({"mode": "ratio", "priority_n": 2, "normal_m": 1, "max_wait_min": 30})
    assert rule.describe() == "ratio 2:1, max wait 30 min"
    with pytest.raises(HallConfigError, match="unknown key"):
        CallingRule.from_data({"mode": "strict", "maxwait": 3})


# -- properties -------------------------------------------------------------------------------------------
waiting_lists = st.lists(
    st.tuples(st.booleans(), st.integers(min_value=0, max_value=600)), min_size=0, max_size=30,
).map(lambda items: [tk(i + 1, p, m) for i, (p, m) in enumerate(items)])
histories = st.lists(st.booleans(), max_size=12)
rules = st.builds(CallingRule, mode=st.sampled_from(["strict", "ratio"]), priority_n=st.integers(1, 5),
                  normal_m=st.integers(1, 5), max_wait_min=st.none() | st.integers(1, 120))


@PROPS
@given(waiting_lists, histories, rules, st.integers(min_value=0, max_value=800))
def test_pick_is_a_waiting_ticket_and_the_oldest_of_its_kind(waiting, history, rule, minute):
    choice = pick_next(waiting, history, rule, T0 + timedelta(minutes=minute))
    if not waiting:
        assert choice is None
        return
    assert choice is not None and choice.ticket in waiting
    same_kind = [t for t in waiting if t.priority == choice.ticket.priority]
    assert choice.ticket == min(same_kind, key=lambda t: t.order)


@PROPS
@given(waiting_lists, histories, st.integers(1, 5), st.integers(1, 5), st.integers(0, 800))
def test_strict_never_calls_normal_while_priority_waits(waiting, history, n, m, minute):
    choice = pick_next(waiting, history, CallingRule("strict", n, m), T0 + timedelta(minutes=minute))
    if any(t.priority for t in waiting):
        assert choice is not None and choice.ticket.priority


@PROPS
@given(waiting_lists, histories, st.integers(1, 120), st.integers(0, 800))
def test_strict_with_max_wait_calls_normal_over_priority_only_when_overdue(waiting, history, max_wait, minute):
    now = T0 + timedelta(minutes=minute)
    choice = pick_next(waiting, history, CallingRule("strict", max_wait_min=max_wait), now)
    if choice is not None and not choice.ticket.priority and any(t.priority for t in waiting):
        assert now - choice.ticket.issued_at >= timedelta(minutes=max_wait)
        assert choice.reason == "max_wait"


@PROPS
@given(waiting_lists, histories, rules, st.integers(0, 800))
def test_once_anyone_is_overdue_the_longest_waiting_ticket_goes_first(waiting, history, rule, minute):
    now = T0 + timedelta(minutes=minute)
    if rule.max_wait_min is None or not any(now - t.issued_at >= timedelta(minutes=rule.max_wait_min)
                                            for t in waiting):
        return
    choice = pick_next(waiting, history, rule, now)
    assert choice is not None and choice.ticket == min(waiting, key=lambda t: t.order)


@PROPS
@given(st.integers(1, 6), st.integers(1, 6), histories, st.integers(1, 12))
def test_ratio_holds_in_every_window_of_n_plus_m_calls(n, m, history, cycles):
    rule = CallingRule("ratio", n, m)
    calls = cycles * (n + m)
    plenty = [tk(i, True, i) for i in range(1, calls + 1)] + [tk(1000 + i, False, i) for i in range(1, calls + 1)]
    flags = [t.priority for t in run_calls(plenty, rule, calls, T0 + timedelta(days=1), history)]
    assert len(flags) == calls
    for start in range(calls - (n + m) + 1):
        assert sum(flags[start:start + n + m]) == n
    assert sum(flags) == n * cycles


@PROPS
@given(st.integers(1, 6), st.integers(1, 6), histories)
def test_ratio_turn_follows_the_trailing_run(n, m, history):
    rule = CallingRule("ratio", n, m)
    turn = ratio_turn(history, rule)
    if not history:
        assert turn is True
        return
    run = len(history) - next((i + 1 for i in reversed(range(len(history))) if history[i] != history[-1]), 0)
    limit = n if history[-1] else m
    assert turn == (history[-1] if run < limit else not history[-1])


arrivals = st.lists(st.lists(st.booleans(), max_size=3), min_size=1, max_size=60)


@PROPS
@given(arrivals, st.sampled_from(["strict", "ratio"]), st.integers(1, 4), st.integers(1, 4), st.integers(1, 40))
def test_no_ticket_waits_beyond_max_wait_plus_those_already_ahead(arrivals_per_minute, mode, n, m, max_wait):
    """One counter calls once a minute; tickets arrive by the minute.  Every ticket (either kind) is
    called within ``max_wait`` minutes plus one minute per older ticket still waiting when it came."""
    rule = CallingRule(mode, n, m, max_wait_min=max_wait)
    pool: list[Waiting] = []
    history: list[bool] = []
    older_at_issue: dict[int, int] = {}
    next_id, minute = 1, 0
    total = sum(len(a) for a in arrivals_per_minute)
    called = 0
    while called < total:
        for priority in (arrivals_per_minute[minute] if minute < len(arrivals_per_minute) else []):
            ticket = tk(next_id, priority, minute)
            older_at_issue[next_id] = len(pool)
            pool.append(ticket)
            next_id += 1
        choice = pick_next(pool, history, rule, T0 + timedelta(minutes=minute))
        if choice is not None:
            waited = minute - (choice.ticket.issued_at - T0) / timedelta(minutes=1)
            assert waited <= max_wait + older_at_issue[choice.ticket.ticket_id], (choice, waited)
            pool.remove(choice.ticket)
            history.append(choice.ticket.priority)
            called += 1
        minute += 1
    assert pool == []


@PROPS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(5, 30))
def test_strict_without_max_wait_starves_normal_under_a_priority_stream_but_max_wait_rescues_it(n, m, max_wait):
    """The reason max wait exists: a steady stream of priority tickets and one normal ticket."""
    def normal_called_at(rule: CallingRule) -> int | None:
        pool = [tk(0, False, 0)]
        for minute in range(3 * max_wait):
            pool.append(tk(minute + 1, True, minute))
            choice = pick_next(pool, [], rule, T0 + timedelta(minutes=minute))
            assert choice is not None
            pool.remove(choice.ticket)
            if choice.ticket.ticket_id == 0:
                return minute
        return None

    assert normal_called_at(CallingRule("strict", n, m)) is None
    rescued = normal_called_at(CallingRule("strict", n, m, max_wait_min=max_wait))
    assert rescued is not None and rescued <= max_wait
