"""Coins between accounts (docs/timebank.md §1): gifts to kin, donations, pool grants, group transfers.

Each call is one entry whose id is the form's ``request_id`` (a UUID the form made): a resent
form finds its entry and returns the same id, moving nothing again.  The paying member (and
every member of the entry) is locked first, then the balance rows, so two concurrent requests
on one member run one after the other and a balance never goes below zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import Connection, select

from ..errors import CentralError
from .audit import audit
from .ledger import POOL, Line, lock_accounts, lock_members, post_entry, vol_account
from .policy import utc_text
from .schema import tb_entries

_VOL = re.compile(r"^vol:([1-9][0-9]{0,17})$")
MAX_MEMO = 200


def _check_request(conn: Connection, request_id: str, entry_type: str) -> str | None:
    """The entry already made for ``request_id`` (None: new); refuses an id used for something else."""
    if not isinstance(request_id, str) or not 8 <= len(request_id) <= 40:
        raise CentralError("bad_request_id", "表单编号不对，请刷新页面再试 (bad request id)")
    row = conn.execute(select(tb_entries.c.type).where(tb_entries.c.entry_id == request_id)).first()
    if row is None:
        return None
    if row.type != entry_type:
        raise CentralError("request_reused", "这个表单已用于别的操作，请刷新页面再试 (request id reused)")
    return request_id


def _check_amount(amount_cc: int) -> int:
    if isinstance(amount_cc, bool) or not isinstance(amount_cc, int) or amount_cc <= 0:
        raise CentralError("bad_amount", "数额应大于 0 (the amount must be more than 0)")
    return amount_cc


def _need(balance: int, amount_cc: int, whose: str) -> None:
    if balance < amount_cc:
        raise CentralError("insufficient_balance", f"余额不足：{whose}只有 {balance / 100:.2f} 币，"
                                                   f"需要 {amount_cc / 100:.2f} 币 (balance too low)")


def _member_id(account: str) -> int | None:
    match = _VOL.match(account)
    return int(match.group(1)) if match else None


def _move(conn: Connection, *, entry_type: str, payer: str, shares: Mapping[str, int], actor: str,
          request_id: str, at: str, memo: str | None = None, category: str | None = None,
          subject: str | None = None) -> str:
    """Lock, check and post one transfer from ``payer`` to ``shares``; the shared path of every kind."""
    done = _check_request(conn, request_id, entry_type)
    if done is not None:
        return done
    at = utc_text(at)
    if not shares:
        raise CentralError("bad_amount", "没有收款人 (no one to pay)")
    for account, amount in shares.items():
        _check_amount(amount)
        if account == payer:
            raise CentralError("to_self", "不能转给自己 (cannot pay yourself)")
        if account not in (POOL,) and _member_id(account) is None:
            raise CentralError("bad_account", f"收款账户不对：{account} (unknown account)")
    if payer != POOL and _member_id(payer) is None:
        raise CentralError("bad_account", f"付款账户不对：{payer} (unknown account)")
    if memo is not None and len(memo) > MAX_MEMO:
        raise CentralError("bad_memo", f"备注太长（最多 {MAX_MEMO} 字）")
    members = [m for m in (_member_id(a) for a in [payer, *shares]) if m is not None]
    lock_members(conn, members)
    done = _check_request(conn, request_id, entry_type)  # a concurrent resend may have committed meanwhile
    if done is not None:
        return done
    total = sum(shares.values())
    balances = lock_accounts(conn, [payer, *shares], at)
    _need(balances[payer], total, "公益池" if payer == POOL else "")
    lines = [Line(payer, -total, entry_type)] + [Line(a, amount, entry_type) for a, amount in sorted(shares.items())]
    entry_id = post_entry(conn, entry_type=entry_type, actor=actor, lines=lines, at=at, entry_id=request_id,
                          memo=memo, category=category)
    audit(conn, actor, entry_type, subject or payer,
          {"entry": entry_id, "from": payer, "to": dict(sorted(shares.items())), "amount_cc": total}, at=at)
    return entry_id


def gift(conn: Connection, from_id: int, to_id: int, amount_cc: int, *, relation: str, actor: str,
         request_id: str, at: str) -> str:
    """Give coins from one member to a kin member; returns the entry id (= ``request_id``)."""
    relation = (relation or "").strip()
    if not relation or len(relation) > 20:
        raise CentralError("bad_relation", "请写明亲属关系（最多 20 字）(say how you are related)")
    _check_amount(amount_cc)
    if int(from_id) == int(to_id):
        raise CentralError("to_self", "不能转给自己 (cannot give to yourself)")
    return _move(conn, entry_type="gift", payer=vol_account(from_id), shares={vol_account(to_id): amount_cc},
                 actor=actor, request_id=request_id, at=at, memo=f"亲属赠与：{relation}")


def donate(conn: Connection, from_id: int, amount_cc: int, *, actor: str, request_id: str, at: str) -> str:
    """Donate a member's coins to the pool; returns the entry id."""
    return _move(conn, entry_type="donate", payer=vol_account(from_id), shares={POOL: _check_amount(amount_cc)},
                 actor=actor, request_id=request_id, at=at, memo="捐入公益池")


def pool_grant(conn: Connection, to_id: int, amount_cc: int, *, actor: str, memo: str, request_id: str,
               at: str) -> str:
    """Grant coins from the pool to a member (an organiser's decision, with its reason); returns the entry id."""
    memo = (memo or "").strip()
    if not memo:
        raise CentralError("bad_memo", "请写明发放理由 (say why)")
    return _move(conn, entry_type="pool_grant", payer=POOL, shares={vol_account(to_id): _check_amount(amount_cc)},
                 actor=actor, request_id=request_id, at=at, memo=memo, subject=vol_account(to_id))


def group_transfer(conn: Connection, *, payer: str, shares: Mapping[str, int], actor: str, category: str | None,
                   memo: str | None, request_id: str, at: str) -> str:
    """One payer account to several accounts in one entry (TimeOverflow #469); returns the entry id."""
    return _move(conn, entry_type="group", payer=payer, shares=dict(shares), actor=actor, request_id=request_id,
                 at=at, memo=memo, category=category)
