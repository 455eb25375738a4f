"""A deterministic Time Bank history at the sub-district's scale, written straight into a central database.

13,000 registered members (ages 18–90, 18 communities), of whom 3,000 are active; 195,000
approved hours as ~97,500 shifts over the last two years, each an ``earn`` entry (``issue`` −a,
member +a) of the kind :mod:`sync.central.timebank.hours` posts; 32 partner units, 60 teams, 4,000
activities; some redemptions, kin gifts and donations.  Rows are bulk-inserted in chunks (the
module's own functions post one entry at a time, which would take minutes for this history);
the cached balances are computed from the same movements, so :func:`check_ledger` holds.

No real person: names are masked forms, person and phone keys are random hex.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert, select, text

from sync.central.timebank.schema import (
    tb_activities,
    tb_balances,
    tb_entries,
    tb_movements,
    tb_redemptions,
    tb_rewards,
    tb_shifts,
    tb_units,
    tb_volunteers,
)

SERVICES = ("companion", "cleaning", "meals", "phone", "anti_fraud", "escort", "repair", "culture")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
CHUNK = 5000
END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class HistorySize:
    """How much history to make."""

    members: int = 13_000
    active: int = 3_000
    hours: int = 195_000
    activities: int = 4_000


QUICK = HistorySize(members=2_000, active=500, hours=30_000, activities=600)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _chunks(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[start:start + CHUNK])


def _members(rng: random.Random, size: HistorySize, at: str) -> list[dict[str, Any]]:
    rows = []
    for i in range(size.members):
        age = rng.choice((rng.randint(18, 59), rng.randint(60, 74), rng.randint(60, 74), rng.randint(75, 90)))
        born = dt.date(2026 - age, rng.randint(1, 12), rng.randint(1, 28))
        rows.append({"id": i + 1, "person_key": f"{rng.getrandbits(256):064x}",
                     "name_masked": rng.choice(SURNAMES) + "*" + rng.choice("明华英军芳敏静丽强磊"),
                     "id_masked": f"310***********{rng.randint(0, 9999):04d}", "born_on": born.isoformat(),
                     "phone_key": f"{rng.getrandbits(256):064x}", "phone_masked": f"13{rng.randint(0, 9)}****{i % 10000:04d}",
                     "community": f"居委{i % 18 + 1:02d}", "services": ",".join(rng.sample(SERVICES, 2)),
                     "availability": rng.randint(1, 15), "hardship": int(rng.random() < 0.03),
                     "rules_version": "shanghai-2026", "status": "active", "registered_via": "phone",
                     "registered_by": f"vol:{i + 1}", "registered_at": at, "team_id": None})
    return rows


def generate(conn: Connection, size: HistorySize = HistorySize(), seed: int = 2026) -> dict[str, int]:
    """Insert the history; returns what was made (members, shifts, entries, movements, hours)."""
    rng = random.Random(seed)
    at = _iso(END - dt.timedelta(days=730))
    members = _members(rng, size, at)
    _chunks(conn, tb_volunteers, members)
    units = [{"id": i + 1, "kind": "partner" if i < 32 else "team", "name": f"{'共建单位' if i < 32 else '居民团队'}{i + 1:02d}",
              "community": None if i < 32 else f"居委{i % 18 + 1:02d}", "created_at": at, "created_by": "system"}
             for i in range(92)]
    _chunks(conn, tb_units, units)
    activities = []
    for i in range(size.activities):
        start = END - dt.timedelta(days=rng.randint(1, 729), hours=rng.randint(0, 8))
        activities.append({"id": i + 1, "title": f"社区服务活动 {i + 1}", "category": rng.choice(SERVICES),
                           "unit_id": rng.randint(1, 92), "project_id": None, "community": f"居委{i % 18 + 1:02d}",
                           "place": "临汾路 375 弄活动室", "starts_at": _iso(start),
                           "ends_at": _iso(start + dt.timedelta(hours=3)), "slots": 20, "needs": "",
                           "checkin_token": uuid.uuid4().hex, "status": "open", "created_by": "staff:bench",
                           "created_at": at})
    _chunks(conn, tb_activities, activities)
    active = rng.sample(range(1, size.members + 1), size.active)
    shifts, entries, movements = [], [], []
    balances: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    minutes_left = size.hours * 60
    shift_id = 0
    while minutes_left > 0:
        shift_id += 1
        member = rng.choice(active)
        minutes = min(minutes_left, rng.choice((60, 90, 120, 120, 150, 180)))
        minutes_left -= minutes
        activity = rng.choice(activities)
        start = dt.datetime.fromisoformat(activity["starts_at"])
        entry_id = str(uuid.UUID(int=rng.getrandbits(128)))
        cc = minutes * 100 // 60
        end = _iso(start + dt.timedelta(minutes=minutes))
        shifts.append({"id": shift_id, "volunteer_id": member, "activity_id": activity["id"],
                       "category": activity["category"], "site": None, "check_in_at": activity["starts_at"],
                       "check_out_at": end, "in_via": "qr", "out_via": "qr", "minutes": minutes,
                       "status": "approved", "decided_by": "staff:bench", "decided_at": end, "entry_id": entry_id})
        entries.append({"entry_id": entry_id, "type": "earn", "at": end, "actor": "staff:bench",
                        "category": activity["category"], "shift_id": shift_id, "redemption_id": None})
        for account, amount in (("issue", -cc), (f"vol:{member}", cc)):
            movements.append({"entry_id": entry_id, "account": account, "amount_cc": amount, "kind": "earn",
                              "category": activity["category"], "at": end})
            balances[account][0] += amount
            balances[account][1] += 1
    _chunks(conn, tb_shifts, shifts)
    rewards = [{"id": i + 1, "name": name, "category": "service", "cost_cc": cost, "stock": 500, "unit_id": i + 1,
                "active": 1, "created_by": "staff:bench", "created_at": at}
               for i, (name, cost) in enumerate((("上门理发", 200), ("助浴服务", 500), ("家电清洗", 400),
                                                ("陪同就医", 300), ("助餐券", 100)))]
    _chunks(conn, tb_rewards, rewards)
    redemptions = []
    old = [m["id"] for m in members if m["born_on"] <= "1961-12-01" and balances[f"vol:{m['id']}"][0] >= 500]
    for n, member in enumerate(rng.sample(old, min(len(old), len(old) // 2))):
        reward = rng.choice(rewards)
        entry_id = str(uuid.UUID(int=rng.getrandbits(128)))
        when = _iso(END - dt.timedelta(days=rng.randint(1, 300)))
        redemptions.append({"id": n + 1, "volunteer_id": member, "reward_id": reward["id"], "cost_cc": reward["cost_cc"],
                            "at": when, "entry_id": entry_id, "request_id": entry_id, "actor": f"vol:{member}"})
        entries.append({"entry_id": entry_id, "type": "redeem", "at": when, "actor": f"vol:{member}",
                        "category": reward["category"], "shift_id": None, "redemption_id": n + 1})
        for account, amount in ((f"vol:{member}", -reward["cost_cc"]), ("rewards", reward["cost_cc"])):
            movements.append({"entry_id": entry_id, "account": account, "amount_cc": amount, "kind": "redeem",
                              "category": reward["category"], "at": when})
            balances[account][0] += amount
            balances[account][1] += 1
    _chunks(conn, tb_redemptions, redemptions)
    _chunks(conn, tb_entries, entries)
    _chunks(conn, tb_movements, movements)
    _chunks(conn, tb_balances, [{"account": a, "balance_cc": b, "movements": n, "last_at": _iso(END)}
                                for a, (b, n) in sorted(balances.items())])
    _advance_sequences(conn, (tb_volunteers, tb_units, tb_activities, tb_shifts, tb_rewards, tb_redemptions))
    return {"members": len(members), "shifts": len(shifts), "entries": len(entries), "movements": len(movements),
            "hours": size.hours, "redemptions": len(redemptions)}


def _advance_sequences(conn: Connection, tables: Iterable[Table]) -> None:
    """On PostgreSQL, move each table's id sequence past the ids inserted here (SQLite needs nothing)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                          f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"))


def active_members(conn: Connection) -> Iterable[int]:
    """Member ids that have at least one approved shift (the bench signs them in)."""
    return [r[0] for r in conn.execute(select(tb_shifts.c.volunteer_id).distinct())]
