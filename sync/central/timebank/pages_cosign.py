"""The served resident's confirmation by QR (co-sign): after a volunteer checks out by QR on the phone.

    GET  /tb/cosign/<token>    "张*明 为您服务了 1 小时 30 分，请确认" (the resident signed in on their phone)
    POST /tb/cosign/<token>    confirm: :func:`.hours.cosign` with the resident's person key, via "qr"

The volunteer's check-out page shows the QR (:func:`cosign_link`); the token is a signed,
expiring (30 minutes) reference to the shift, so the link cannot be made up for another shift.
The resident signs in with their own phone (a member's phone and one-time code), so the
co-signer is a known person; where the resident has no phone, the volunteer checks in and out
at the hall kiosk and the resident co-signs there with a card tap.  The volunteer's own account
cannot confirm.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..db import now_text, read_transaction, write_transaction
from ..errors import CentralError
from . import hours, people
from .web_auth import check_csrf, page, read_form, read_state, refusal, require, sign_state

router = APIRouter(include_in_schema=False)
PURPOSE = "cosign"
COSIGN_TTL_S = 1800  # the resident has half an hour to scan and confirm


def cosign_link(request: Request, shift_id: int) -> str:
    """The absolute address the co-sign QR holds for ``shift_id``."""
    token = sign_state(request, PURPOSE, {"s": int(shift_id)}, ttl_s=COSIGN_TTL_S)
    return f"{str(request.base_url).rstrip('/')}/tb/cosign/{token}"


def _shift_view(request: Request, token: str) -> tuple[int, dict[str, object]]:
    shift_id = int(read_state(request, PURPOSE, token, "/tb/me")["s"])
    with read_transaction(request.app.state.store.engine) as conn:
        shift = hours.get_shift(conn, shift_id)
        volunteer = people.member(conn, shift.volunteer_id) if shift is not None else None
    if shift is None or volunteer is None:
        raise CentralError("unknown_shift", "找不到这段服务记录")
    minutes = shift.minutes or 0
    return shift_id, {"volunteer": volunteer.name_masked, "hours": minutes // 60, "minutes": minutes % 60,
                      "status": shift.status, "cosigned": shift.cosigner_key is not None}


@router.get("/tb/cosign/{token}")
def cosign_page(request: Request, token: str) -> Response:
    """What the resident sees after scanning: who served them and how long, and one 确认 button."""
    user = require(request, "volunteer")
    try:
        _, shift = _shift_view(request, token)
    except CentralError as exc:
        return refusal(request, 404, "不能确认", exc.detail, user=user)
    return page(request, "cosign.html", user, token=token, shift=shift, message=None, error=None)


@router.post("/tb/cosign/{token}")
async def cosign_post(request: Request, token: str) -> Response:
    """Confirm the shift with the signed-in resident's person key."""
    user = require(request, "volunteer")
    form = await read_form(request)
    check_csrf(request, form)
    try:
        shift_id, shift = _shift_view(request, token)
        with write_transaction(request.app.state.store.engine) as conn:
            resident = people.member(conn, user.id)
            if resident is None:
                raise CentralError("unknown_member", "请先登录")
            done = hours.cosign(conn, shift_id, cosigner_key=resident.person_key, via="qr", actor=user.actor,
                                at=now_text())
    except CentralError as exc:
        return refusal(request, 409, "不能确认", exc.detail, user=user, back="/tb/me")
    words = "已确认，谢谢！服务时长已记入志愿者的时间币。" if done.shift.status == "approved" else \
        "已确认，谢谢！这段服务还要组织者看一下。"
    return page(request, "cosign.html", user, token=token, shift=shift, message=words, error=None)
