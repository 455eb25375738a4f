"""Shared helpers for the Time Bank's tests: a store with the shipped policy, members made directly.

    with tb_conn(store) as conn:
        import_default_policy(conn)
        vid = make_member(conn, born_on="1950-05-01")
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, func, insert, select

from sync.central.db import write_transaction
from sync.central.storage import CentralStore
from sync.central.timebank import ledger_check
from sync.central.timebank.policy import Policy, import_policy, load_policy_file
from sync.central.timebank.schema import tb_balances, tb_movements, tb_volunteers

_serial = itertools.count(1)
REGISTERED_AT = "2026-01-02T00:00:00.000000+00:00"


def person_key_of(label: str) -> str:
    """A stand-in person key (64 hex) for a test person named ``label``."""
    return hashlib.sha256(f"test-person:{label}".encode()).hexdigest()


@contextmanager
def tb_conn(store: CentralStore) -> Iterator[Connection]:
    """One write transaction on ``store``."""
    with write_transaction(store.engine) as conn:
        yield conn


def import_default_policy(conn: Connection, actor: str = "admin") -> Policy:
    """Import the shipped ``config/policy/timebank-shanghai-2026.json``."""
    return import_policy(conn, load_policy_file(), actor)


def make_member(conn: Connection, *, born_on: str = "1950-05-01", services: str = "companion",
                hardship: int = 0, status: str = "active", person_key: str | None = None,
                name_masked: str = "张*明", community: str = "linfen-1", **over: Any) -> int:
    """Insert a ``tb_volunteers`` row directly (no registration flow) and return its id."""
    n = next(_serial)
    values = {"person_key": person_key or person_key_of(f"member-{n}-{id(conn)}"), "name_masked": name_masked,
              "id_masked": "310***********1234", "born_on": born_on, "phone_key": None, "phone_masked": None,
              "community": community, "services": services, "availability": 0, "hardship": hardship,
              "rules_version": "shanghai-2026", "status": status, "registered_via": "staff",
              "registered_by": "staff:test", "registered_at": REGISTERED_AT, **over}
    return int(conn.execute(insert(tb_volunteers).values(**values)).inserted_primary_key[0])


def assert_ledger_sound(conn: Connection) -> None:
    """Total 0, each cached balance equal to its movements, every entry balanced, no member below 0."""
    result = ledger_check.check_ledger(conn)
    assert result["total_cc"] == 0 and result["mismatched_accounts"] == [] and result["unbalanced_entries"] == [], \
        result
    sums = dict(conn.execute(select(tb_movements.c.account, func.sum(tb_movements.c.amount_cc))
                             .group_by(tb_movements.c.account)).all())
    for account, balance in conn.execute(select(tb_balances.c.account, tb_balances.c.balance_cc)):
        assert int(sums.get(account, 0)) == int(balance), account
        if account.startswith("vol:") or account == "pool":
            assert int(balance) >= 0, (account, balance)
