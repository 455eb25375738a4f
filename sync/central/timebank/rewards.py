"""The reward catalogue, its stock and redemption (docs/timebank.md §1, §2).

A redemption is one ``redeem`` entry (member −cost, ``rewards`` +cost) and one stock unit, in
the same transaction: the member row and the balance rows are locked first (so a balance
never goes below zero under concurrent requests), then ``stock = stock - 1 WHERE stock > 0``
takes the unit or finds none.  A member below the redemption age gets a ``redeem_age`` review:
the ``tb_redemptions`` row is kept with status ``waiting`` (no entry) and nothing moves until an
organiser allows its review (``tb_reviews.redemption_id``; :func:`complete_waiting`); a refused
one becomes ``refused``.  Only ``done`` redemptions moved coins and stock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from ..errors import CentralError
from .audit import audit
from .ledger import REWARDS, Line, lock_accounts, lock_members, post_entry, vol_account
from .policy import age_on, open_breach_review, policy_on, utc_text
from .schema import tb_redemptions, tb_reviews, tb_rewards

DONE, WAITING, REFUSED = "done", "waiting", "refused"


@dataclass
class Reward:
    """One catalogue row."""

    id: int
    name: str
    category: str
    cost_cc: int
    stock: int
    unit_id: int | None
    active: bool


@dataclass
class Redemption:
    """A redemption: done (``entry_id``), or waiting for its ``review_id`` (``entry_id`` ``""``)."""

    id: int
    reward_id: int
    cost_cc: int
    entry_id: str
    review_id: int | None


def _reward(row: Row[Any]) -> Reward:
    return Reward(int(row.id), row.name, row.category, int(row.cost_cc), int(row.stock),
                  None if row.unit_id is None else int(row.unit_id), bool(row.active))


def add_reward(conn: Connection, *, name: str, category: str, cost_cc: int, stock: int, actor: str,
               unit_id: int | None = None, at: str) -> int:
    """Add a reward to the catalogue; returns its id."""
    name, category = (name or "").strip(), (category or "").strip()
    if not name or len(name) > 80:
        raise CentralError("bad_reward", "奖励名称应为 1 到 80 个字 (name 1-80 characters)")
    if not category or len(category) > 32:
        raise CentralError("bad_reward", "请选择奖励类别 (category needed)")
    if isinstance(cost_cc, bool) or not isinstance(cost_cc, int) or cost_cc <= 0:
        raise CentralError("bad_reward", "所需币数应大于 0 (cost must be more than 0)")
    if isinstance(stock, bool) or not isinstance(stock, int) or stock < 0:
        raise CentralError("bad_reward", "库存不能为负数 (stock cannot be negative)")
    at = utc_text(at)
    reward_id = int(conn.execute(insert(tb_rewards).values(
        name=name, category=category, cost_cc=cost_cc, stock=stock, unit_id=unit_id, active=1, created_by=actor,
        created_at=at)).inserted_primary_key[0])
    audit(conn, actor, "reward_add", f"reward:{reward_id}", {"name": name, "cost_cc": cost_cc, "stock": stock}, at=at)
    return reward_id


def restock(conn: Connection, reward_id: int, add: int, actor: str, at: str) -> int:
    """Change a reward's stock by ``add`` (never below 0); returns the new stock."""
    if isinstance(add, bool) or not isinstance(add, int) or add == 0:
        raise CentralError("bad_stock", "请填写要增加的数量 (a non-zero whole number)")
    row = conn.execute(select(tb_rewards.c.stock).where(tb_rewards.c.id == reward_id).with_for_update()).first()
    if row is None:
        raise CentralError("unknown_reward", "没有这个奖励 (no such reward)")
    if row.stock + add < 0:
        raise CentralError("bad_stock", f"库存只有 {row.stock}，不能减少 {-add} (stock would be negative)")
    conn.execute(update(tb_rewards).where(tb_rewards.c.id == reward_id).values(stock=tb_rewards.c.stock + add))
    audit(conn, actor, "reward_restock", f"reward:{reward_id}", {"add": add, "stock": row.stock + add},
          at=utc_text(at))
    return int(row.stock) + add


def catalogue(conn: Connection, active_only: bool = True) -> list[Reward]:
    """The rewards, cheapest first."""
    query = select(tb_rewards).order_by(tb_rewards.c.cost_cc, tb_rewards.c.id)
    if active_only:
        query = query.where(tb_rewards.c.active == 1)
    return [_reward(r) for r in conn.execute(query)]


def _review_of(conn: Connection, redemption_id: int) -> int | None:
    return conn.execute(select(tb_reviews.c.id).where(tb_reviews.c.redemption_id == redemption_id)).scalar()


def _as_redemption(conn: Connection, row: Row[Any]) -> Redemption:
    return Redemption(int(row.id), int(row.reward_id), int(row.cost_cc), row.entry_id or "",
                      _review_of(conn, int(row.id)))


def _take(conn: Connection, volunteer_id: int, reward_id: int, at: str) -> Reward:
    """Check the reward, stock and balance (under the balance locks); returns the reward."""
    row = conn.execute(select(tb_rewards).where(tb_rewards.c.id == reward_id)).first()
    if row is None or not row.active:
        raise CentralError("unknown_reward", "没有这个奖励，或已下架 (no such reward)")
    reward = _reward(row)
    balance = lock_accounts(conn, [REWARDS, vol_account(volunteer_id)], at)[vol_account(volunteer_id)]
    if reward.stock <= 0:
        raise CentralError("out_of_stock", f"「{reward.name}」已兑完 (out of stock)")
    if balance < reward.cost_cc:
        raise CentralError("insufficient_balance", f"余额不足：需要 {reward.cost_cc / 100:.2f} 币，"
                                                   f"现有 {balance / 100:.2f} 币 (balance too low)")
    return reward


def _post(conn: Connection, volunteer_id: int, reward: Reward, redemption_id: int, entry_id: str, actor: str,
          at: str) -> None:
    """Take one unit of stock and post the redemption's entry (or refuse: out of stock)."""
    taken = conn.execute(update(tb_rewards).where(tb_rewards.c.id == reward.id, tb_rewards.c.stock > 0)
                         .values(stock=tb_rewards.c.stock - 1)).rowcount
    if taken != 1:
        raise CentralError("out_of_stock", f"「{reward.name}」已兑完 (out of stock)")
    post_entry(conn, entry_type="redeem", actor=actor, at=at, entry_id=entry_id, category=reward.category,
               memo=f"兑换：{reward.name}", redemption_id=redemption_id,
               lines=[Line(vol_account(volunteer_id), -reward.cost_cc, "redeem"),
                      Line(REWARDS, reward.cost_cc, "redeem")])


def redeem(conn: Connection, volunteer_id: int, reward_id: int, *, request_id: str, actor: str, today: dt.date,
           at: str) -> Redemption:
    """Redeem one unit of a reward; below the redemption age the request waits in a review."""
    if not isinstance(request_id, str) or not 8 <= len(request_id) <= 40:
        raise CentralError("bad_request_id", "表单编号不对，请刷新页面再试 (bad request id)")
    at = utc_text(at)
    member = lock_members(conn, [volunteer_id])[int(volunteer_id)]
    done = conn.execute(select(tb_redemptions).where(tb_redemptions.c.request_id == request_id)).first()
    if done is not None:
        if int(done.volunteer_id) != int(volunteer_id) or int(done.reward_id) != int(reward_id):
            raise CentralError("request_reused", "这个表单已用于别的兑换，请刷新页面再试 (request id reused)")
        return _as_redemption(conn, done)
    reward = _take(conn, volunteer_id, reward_id, at)
    policy = policy_on(conn, today)
    age = age_on(member.born_on, today)
    needed = policy.rules.redeem_age_hardship if member.hardship else policy.rules.redeem_age
    young = age < needed
    entry_id = None if young else str(uuid.uuid4())
    redemption_id = int(conn.execute(insert(tb_redemptions).values(
        volunteer_id=volunteer_id, reward_id=reward.id, cost_cc=reward.cost_cc, at=at,
        status=WAITING if young else DONE, entry_id=entry_id, request_id=request_id,
        actor=actor)).inserted_primary_key[0])
    review_id = None
    if young:
        review_id = open_breach_review(
            conn, kind="redeem_age", volunteer_id=volunteer_id, amount_cc=reward.cost_cc, policy=policy, at=at,
            actor=actor, detail=f"{age} 岁，未到兑换年龄 {needed} 岁；兑换「{reward.name[:60]}」",
            redemption_id=redemption_id)
    else:
        _post(conn, volunteer_id, reward, redemption_id, str(entry_id), actor, at)
    audit(conn, actor, "redeem", vol_account(volunteer_id),
          {"redemption": redemption_id, "reward": reward.id, "cost_cc": reward.cost_cc, "entry": entry_id,
           "review": review_id}, at=at)
    return Redemption(redemption_id, reward.id, reward.cost_cc, entry_id or "", review_id)


def complete_waiting(conn: Connection, redemption_id: int, actor: str, at: str) -> str:
    """Perform a redemption that waited for its review (stock and balance checked again); returns the entry id."""
    row = conn.execute(select(tb_redemptions).where(tb_redemptions.c.id == redemption_id)).first()
    if row is None or row.status != WAITING:
        raise CentralError("already_decided", "这项兑换已经处理过了 (redemption not waiting)")
    lock_members(conn, [row.volunteer_id], active=False)
    reward = _take(conn, int(row.volunteer_id), int(row.reward_id), at)
    entry_id = str(uuid.uuid4())
    _post(conn, int(row.volunteer_id), reward, redemption_id, entry_id, actor, at)
    conn.execute(update(tb_redemptions).where(tb_redemptions.c.id == redemption_id)
                 .values(status=DONE, entry_id=entry_id))
    return entry_id


def refuse_waiting(conn: Connection, redemption_id: int) -> None:
    """Mark a waiting redemption refused (nothing was moved)."""
    conn.execute(update(tb_redemptions).where(tb_redemptions.c.id == redemption_id,
                                              tb_redemptions.c.status == WAITING).values(status=REFUSED))
