"""The volunteer's coins: statement, rewards and redemption, gifts to kin and donations (helper E).

``GET /tb/me/statement`` the balance with given / received / pending and the movements;
``GET /tb/rewards`` the catalogue (before the member's redemption date it says when, and a
request then waits for review); ``POST /tb/rewards/redeem`` a result page in words;
``GET /tb/me/give`` gift to kin and donation to the pool; ``POST /tb/me/give`` shows the
receiver's masked name for a last check; ``POST /tb/me/give/confirm`` and ``POST /tb/me/donate``
move the coins.  Every form carries the CSRF token and a ``request_id`` made when it was shown,
so a resent form moves coins once.  A refusal (:class:`CentralError`) is shown in its words.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection, select

from ..db import now_text, read_transaction, write_transaction
from ..errors import CentralError
from . import ledger, rewards, transfers
from .otp import clean_phone, phone_key
from .policy import policy_on
from .schema import tb_volunteers
from .web_auth import check_csrf, page, read_form, require

router = APIRouter(include_in_schema=False)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MAX_COINS = 100_000  # a typed amount above this is a typo, not a gift
RELATIONS = ("配偶", "子女", "父母", "兄弟姐妹", "其他")
CATEGORIES = {"companion": "陪伴聊天", "cleaning": "清洁打扫", "meals": "助餐送餐", "phone": "教用手机",
              "anti_fraud": "反诈宣传", "escort": "陪同就医", "repair": "小修小补", "culture": "文体活动"}
ENTRY_WORDS = {"earn": "服务获得", "gift": "亲属赠与", "donate": "捐给公益池", "group": "集体转账",
               "pool_grant": "公益池发放", "redeem": "兑换奖励", "adjust": "更正"}
GIFT_OUT_WORDS = "赠给亲属"
ACCOUNT_WORDS = {ledger.POOL: "公益池", ledger.ISSUE: "街道发放", ledger.REWARDS: ""}  # a reward: its memo says which


def coins(cc: int | None) -> str:
    """``150`` -> ``1.5``; ``200`` -> ``2``; None -> ``0`` (coins from hundredths, no float rounding)."""
    cc = cc or 0
    whole, part = divmod(abs(cc), 100)
    text = str(whole) if part == 0 else f"{whole}.{part:02d}".rstrip("0")
    return f"-{text}" if cc < 0 else text


def signed(cc: int) -> str:
    """``150`` -> ``+1.5``; ``-200`` -> ``−2`` (a real minus sign)."""
    return f"+{coins(cc)}" if cc >= 0 else f"−{coins(-cc)}"


def parse_coins(text: str | None) -> int:
    """A typed amount of coins (``2``, ``1.5``, ``0.25``) in hundredths; bad input -> :class:`CentralError`."""
    value = (text or "").strip().replace("，", ".").replace("。", ".")
    match = re.fullmatch(r"(\d{1,6})(?:\.(\d{1,2}))?", value)
    if not match:
        raise CentralError("bad_amount", "金额请写数字，例如 2 或 1.5（最多两位小数）。Amount: a number such as 2 or 1.5.")
    cc = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if cc <= 0:
        raise CentralError("bad_amount", "金额要大于 0。The amount must be above 0.")
    if cc > MAX_COINS * 100:
        raise CentralError("bad_amount", f"金额太大：一次最多 {MAX_COINS} 个时间币。At most {MAX_COINS} coins.")
    return cc


def parse_member_no(text: str | None) -> int:
    """A typed member number; bad input -> :class:`CentralError` in words."""
    value = (text or "").strip()
    if not value.isdigit() or len(value) > 12 or int(value) <= 0:
        raise CentralError("bad_member_no", f"会员编号“{value[:20]}”不对：请写数字编号。Member number: digits.")
    return int(value)


def parse_whole(text: str | None, what: str, *, signed: bool = False) -> int:
    """A typed whole number (``signed``: a minus sign allowed); bad input -> words naming ``what``."""
    value = (text or "").strip()
    if not re.fullmatch(r"-?\d{1,6}" if signed else r"\d{1,6}", value):
        raise CentralError("bad_number", f"{what}请填写整数。{what}: a whole number.")
    return int(value)


def parse_local_end(text: str) -> str:
    """A typed end time (``2026-12-03T17:30``, Shanghai) as stored UTC text; bad input -> words."""
    value = (text or "").strip().replace(" ", "T")
    try:
        moment = dt.datetime.strptime(value[:16], "%Y-%m-%dT%H:%M")
    except ValueError:
        raise CentralError("bad_end", f"结束时间“{value[:20]}”看不懂：请按 年-月-日 时:分 填写。") from None
    return moment.replace(tzinfo=SHANGHAI).astimezone(dt.UTC).isoformat(timespec="microseconds")


def local_time(at: str | None) -> str:
    """A stored UTC time as Shanghai ``2026-12-03 14:05``; None -> ``—``."""
    if not at:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(at)
    except ValueError:
        return at[:16]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def today() -> dt.date:
    """Today in Shanghai."""
    return dt.datetime.now(SHANGHAI).date()


def new_request_id() -> str:
    """The id a form carries so that sending it twice acts once."""
    return str(uuid.uuid4())


def request_id_of(form: dict[str, str]) -> str:
    """The form's ``request_id`` (a UUID made when it was shown); a missing or bad one is refused."""
    value = form.get("request_id", "")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise CentralError("bad_request_id", "表单已过期，请重新打开本页再提交。The form expired: open the page again.") from None


def entry_words(row: Any) -> str:
    """What a statement row was, in words (a gift shows which way it went)."""
    if row.entry_type == "gift" and row.amount_cc < 0:
        return GIFT_OUT_WORDS
    return ENTRY_WORDS.get(row.entry_type, row.entry_type)


def counterpart_words(conn: Connection, counterpart: str | None, names: dict[str, str]) -> str:
    """Who was on the other side of a movement, in words (a member by masked name and number)."""
    if not counterpart or "," in counterpart:
        return ""
    if counterpart in ACCOUNT_WORDS:
        return ACCOUNT_WORDS[counterpart]
    if counterpart not in names and counterpart.startswith("vol:") and counterpart[4:].isdigit():
        row = member_row(conn, int(counterpart[4:]))
        names[counterpart] = f"{row.name_masked}（{row.id} 号）" if row else ""
    return names.get(counterpart, "")


def statement_view(conn: Connection, volunteer_id: int, limit: int = 50) -> dict[str, Any]:
    """The statement of ``volunteer_id`` ready for a template (coins in words, Shanghai times)."""
    st = ledger.statement(conn, volunteer_id, limit=limit)
    names: dict[str, str] = {}
    rows = [{"at": local_time(r.at), "kind": entry_words(r), "amount": signed(r.amount_cc), "minus": r.amount_cc < 0,
             "category": CATEGORIES.get(r.category or "", r.category or ""), "memo": r.memo or "",
             "counterpart": counterpart_words(conn, r.counterpart, names)} for r in st.rows]
    return {"balance": coins(st.balance_cc), "given": coins(st.given_cc), "received": coins(st.received_cc),
            "pending": coins(st.pending_cc), "has_pending": bool(st.pending_cc), "rows": rows, "limit": limit,
            "balance_cc": st.balance_cc}


def member_row(conn: Connection, volunteer_id: int) -> Any:
    """The member's row (masked name, birth date, hardship, status) or None."""
    return conn.execute(select(tb_volunteers).where(tb_volunteers.c.id == volunteer_id)).first()


def redeem_from(conn: Connection, volunteer_id: int, day: dt.date) -> dt.date | None:
    """The first day the member may redeem under the policy in force on ``day`` (None: unknown)."""
    row = member_row(conn, volunteer_id)
    if row is None:
        return None
    try:
        rules = policy_on(conn, day).rules
    except CentralError:  # no policy imported yet: nothing to say about a date
        return None
    age = rules.redeem_age_hardship if row.hardship else rules.redeem_age
    born = dt.date.fromisoformat(row.born_on)
    try:
        return born.replace(year=born.year + age)
    except ValueError:  # born on 29 February
        return dt.date(born.year + age, 3, 1)


def _engine(request: Request) -> Any:
    return request.app.state.store.engine


@router.get("/tb/me/statement")
def statement_page(request: Request) -> Response:
    """The volunteer's balance, given / received / pending and movements."""
    user = require(request, "volunteer")
    with read_transaction(_engine(request)) as conn:
        view = statement_view(conn, user.id)
    return page(request, "money_statement.html", user, **view)


def _catalogue_view(conn: Connection, volunteer_id: int) -> dict[str, Any]:
    day = today()
    start = redeem_from(conn, volunteer_id, day)
    items = [{"id": r.id, "name": r.name, "cost": coins(r.cost_cc), "stock": r.stock, "request_id": new_request_id(),
              "category": CATEGORIES.get(r.category, r.category)} for r in rewards.catalogue(conn)]
    balance = ledger.statement(conn, volunteer_id, limit=1).balance_cc
    return {"items": items, "balance": coins(balance), "early": start is not None and day < start,
            "from_year": start.year if start else None, "from_month": start.month if start else None}


@router.get("/tb/rewards")
def rewards_page(request: Request) -> Response:
    """The catalogue with a 兑换 button per reward (or, before the redemption date, when it opens)."""
    user = require(request, "volunteer")
    with read_transaction(_engine(request)) as conn:
        view = _catalogue_view(conn, user.id)
    return page(request, "money_rewards.html", user, **view)


def _result(request: Request, user: Any, *, ok: bool, title: str, lines: list[str], back: str,
            back_words: str, status: int = 200) -> Response:
    with read_transaction(_engine(request)) as conn:
        balance = ledger.statement(conn, user.id, limit=1).balance_cc
    return page(request, "money_result.html", user, status=status, ok=ok, heading=title, lines=lines,
                balance=coins(balance), back=back, back_words=back_words)


@router.post("/tb/rewards/redeem")
async def redeem_post(request: Request) -> Response:
    """Redeem one reward: success with the new balance, or why not, or sent to review."""
    user = require(request, "volunteer")
    form = await read_form(request)
    check_csrf(request, form)
    try:
        request_id = request_id_of(form)
        reward_id = parse_member_no(form.get("reward_id"))
        with write_transaction(_engine(request)) as conn:
            done = rewards.redeem(conn, user.id, reward_id, request_id=request_id, actor=user.actor,
                                  today=today(), at=now_text())
            item = next((r for r in rewards.catalogue(conn, active_only=False) if r.id == reward_id), None)
    except CentralError as exc:
        return _result(request, user, ok=False, title="没有兑换", lines=[exc.detail], back="/tb/rewards",
                       back_words="回到奖励列表", status=409)
    name, left = (item.name, item.stock) if item else ("奖励", 0)
    if done.review_id is not None:
        return _result(request, user, ok=True, title="已交工作人员复核",
                       lines=[f"“{name}”（{coins(done.cost_cc)} 个时间币）的申请已交工作人员复核。",
                              "您还未到兑换年龄，复核通过后才扣币。Sent to staff for review."],
                       back="/tb/rewards", back_words="回到奖励列表")
    return _result(request, user, ok=True, title="兑换成功",
                   lines=[f"已兑换“{name}”，用去 {coins(done.cost_cc)} 个时间币。Redeemed.", f"这项奖励还剩 {left} 份。"],
                   back="/tb/rewards", back_words="回到奖励列表")


def _give_form(request: Request, user: Any, *, error: str | None = None, status: int = 200,
               values: dict[str, str] | None = None) -> Response:
    with read_transaction(_engine(request)) as conn:
        balance = ledger.statement(conn, user.id, limit=1).balance_cc
    return page(request, "money_give.html", user, status=status, error=error, values=values or {},
                relations=RELATIONS, balance=coins(balance), gift_request_id=new_request_id(),
                donate_request_id=new_request_id())


@router.get("/tb/me/give")
def give_page(request: Request) -> Response:
    """Gift coins to kin, or donate them to the 公益池."""
    user = require(request, "volunteer")
    return _give_form(request, user)


def find_kin(conn: Connection, text: str) -> Any:
    """The member a typed member number or phone number names; not found -> :class:`CentralError`."""
    value = re.sub(r"[\s-]", "", text or "")
    if len(value) == 11 and value.startswith("1"):
        key = phone_key(conn, clean_phone(value))
        row = conn.execute(select(tb_volunteers).where(tb_volunteers.c.phone_key == key)).first()
    else:
        row = member_row(conn, parse_member_no(value))
    if row is None or row.status != "active":
        raise CentralError("unknown_member", "没有找到这位会员：请核对会员编号或手机号。No such member.")
    return row


@router.post("/tb/me/give")
async def give_check(request: Request) -> Response:
    """Step 1 of a gift: show the receiver's masked name and the amount before the final tap."""
    user = require(request, "volunteer")
    form = await read_form(request)
    check_csrf(request, form)
    values = {k: form.get(k, "")[:40] for k in ("kin", "relation", "amount")}
    try:
        request_id = request_id_of(form)
        amount_cc = parse_coins(form.get("amount"))
        relation = form.get("relation", "")
        if relation not in RELATIONS:
            raise CentralError("bad_relation", "请选择与对方的关系。Choose the relation.")
        with write_transaction(_engine(request)) as conn:  # the phone secret is made on first use
            kin = find_kin(conn, form.get("kin", ""))
        if kin.id == user.id:
            raise CentralError("gift_to_self", "不能赠给自己：请填写亲属的会员编号或手机号。Not to yourself.")
    except CentralError as exc:
        return _give_form(request, user, error=exc.detail, status=422, values=values)
    return page(request, "money_give_confirm.html", user, request_id=request_id, to_id=kin.id,
                to_name=kin.name_masked, relation=relation, amount=coins(amount_cc))


@router.post("/tb/me/give/confirm")
async def give_confirm(request: Request) -> Response:
    """Step 2 of a gift: move the coins (once, whatever the number of taps)."""
    user = require(request, "volunteer")
    form = await read_form(request)
    check_csrf(request, form)
    try:
        request_id = request_id_of(form)
        to_id = parse_member_no(form.get("to_id"))
        amount_cc = parse_coins(form.get("amount"))
        relation = form.get("relation", "")
        if relation not in RELATIONS:
            raise CentralError("bad_relation", "请选择与对方的关系。Choose the relation.")
        with write_transaction(_engine(request)) as conn:
            transfers.gift(conn, user.id, to_id, amount_cc, relation=relation, actor=user.actor,
                           request_id=request_id, at=now_text())
            kin = member_row(conn, to_id)
    except CentralError as exc:
        return _result(request, user, ok=False, title="没有赠送", lines=[exc.detail], back="/tb/me/give",
                       back_words="重新填写", status=409)
    return _result(request, user, ok=True, title="赠送成功",
                   lines=[f"已赠给{relation} {kin.name_masked if kin else ''} {coins(amount_cc)} 个时间币。Given."],
                   back="/tb/me/statement", back_words="看我的时间币")


@router.post("/tb/me/donate")
async def donate_post(request: Request) -> Response:
    """Donate coins to the 公益池 (once per form)."""
    user = require(request, "volunteer")
    form = await read_form(request)
    check_csrf(request, form)
    try:
        request_id = request_id_of(form)
        amount_cc = parse_coins(form.get("amount"))
        with write_transaction(_engine(request)) as conn:
            transfers.donate(conn, user.id, amount_cc, actor=user.actor, request_id=request_id, at=now_text())
    except CentralError as exc:
        return _result(request, user, ok=False, title="没有捐出", lines=[exc.detail], back="/tb/me/give",
                       back_words="重新填写", status=409)
    return _result(request, user, ok=True, title="捐赠成功",
                   lines=[f"已向公益池捐出 {coins(amount_cc)} 个时间币，谢谢您！Donated to the pool."],
                   back="/tb/me/statement", back_words="看我的时间币")
