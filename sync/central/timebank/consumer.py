"""Pushed ``volunteer.check_in`` / ``volunteer.check_out`` events become shifts (docs/timebank.md §6).

:func:`post_volunteer_events` is registered in :mod:`sync.central.modules` and called inside the
push's write transaction with the newly stored events.  Each volunteer event is handled in a
savepoint at the event's ``occurred_at``, as ``terminal:<id>``, and never raises for a bad
event: a payload that is not as documented, an unknown person or an inactive member is
audited (action ``kiosk_event_refused``, with the reason) where an organiser sees it; a known
member's odd case becomes a flagged shift (a check-out without a check-in: ``no_check_in``; a
check-in while one is still open closes that one as ``no_check_out``; a co-signer who is the
volunteer: ``self_cosign``; a check-out whose check-in was closed meanwhile fills that shift in
as ``late_check_out``, pending).  Database errors fail the push (the terminal sends it again).
After a push's volunteer events, forgotten check-ins are closed (:func:`.hours.close_forgotten`);
a push without volunteer events (a canteen's payments, a hall's tickets) is not touched, and the
hourly ``close-forgotten`` task covers quiet days.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import SQLAlchemyError

from ...protocol import EventEnvelope
from ..db import now_text
from ..errors import CentralError
from . import hours
from .audit import audit
from .ledger import lock_members, vol_account
from .policy import utc_text
from .schema import tb_shifts, tb_volunteers

log = logging.getLogger("linfen.central.timebank")

TYPES = ("volunteer.check_in", "volunteer.check_out")
ROLES = ("hall", "selfservice")
VIA = ("id_card", "community_card")
_KEY = re.compile(r"^[0-9a-f]{64}$")
_CARD = re.compile(r"^[0-9A-Za-z]{1,64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class BadPayload(ValueError):
    """A volunteer event's payload is not as docs/timebank.md §6 says; the message names the field."""


@dataclass(frozen=True)
class VolunteerEvent:
    """A checked ``volunteer.*`` payload."""

    person_key: str
    name_masked: str
    via: str
    check_in_event: str | None = None
    cosigner_key: str | None = None
    cosigned_via: str | None = None


def _exact_keys(payload: dict[str, Any], keys: set[str], where: str) -> None:
    extra, missing = sorted(set(payload) - keys), sorted(keys - set(payload))
    if extra:
        raise BadPayload(f"{where}: unknown field {extra[0]!r}")
    if missing:
        raise BadPayload(f"{where}: missing field {missing[0]!r}")


def parse_payload(event_type: str, payload: dict[str, Any]) -> VolunteerEvent:
    """Check a ``volunteer.*`` payload strictly; :class:`BadPayload` names the first bad field."""
    keys = {"person_key", "name_masked", "via"}
    if event_type == "volunteer.check_out":
        keys |= {"check_in_event", "cosigner"}
    _exact_keys(payload, keys, "payload")
    key, name, via = payload["person_key"], payload["name_masked"], payload["via"]
    if not isinstance(key, str) or not _KEY.match(key):
        raise BadPayload("person_key: not 64 lowercase hex digits")
    if not isinstance(name, str) or not 0 < len(name) <= 40:
        raise BadPayload("name_masked: not 1 to 40 characters")
    if via not in VIA:
        raise BadPayload(f"via: not one of {', '.join(VIA)}")
    if event_type == "volunteer.check_in":
        return VolunteerEvent(key, name, via)
    check_in_event = payload["check_in_event"]
    if check_in_event is not None and (not isinstance(check_in_event, str) or not _UUID.match(check_in_event)):
        raise BadPayload("check_in_event: not a UUID or null")
    signer = payload["cosigner"]
    if signer is None:
        return VolunteerEvent(key, name, via, check_in_event)
    if not isinstance(signer, dict):
        raise BadPayload("cosigner: not an object or null")
    _exact_keys(signer, {"kind", "key", "via"}, "cosigner")
    kinds = {"person": (_KEY, "id_card"), "card": (_CARD, "community_card")}
    if signer["kind"] not in kinds:
        raise BadPayload("cosigner.kind: not person or card")
    pattern, signer_via = kinds[signer["kind"]]
    if not isinstance(signer["key"], str) or not pattern.match(signer["key"]):
        raise BadPayload("cosigner.key: not a person key or card number")
    if signer["via"] != signer_via:
        raise BadPayload(f"cosigner.via: a {signer['kind']} co-signs via {signer_via}")
    return VolunteerEvent(key, name, via, check_in_event, signer["key"], signer["via"])


class Refused(Exception):
    """A volunteer event that cannot become a shift: ``reason`` and the member, when known."""

    def __init__(self, reason: str, volunteer_id: int | None = None) -> None:
        """A refusal for ``reason``."""
        super().__init__(reason)
        self.reason = reason
        self.volunteer_id = volunteer_id


def _member(conn: Connection, person_key: str) -> Any:
    row = conn.execute(select(tb_volunteers.c.id, tb_volunteers.c.status)
                       .where(tb_volunteers.c.person_key == person_key)).first()
    if row is None:
        raise Refused("unknown_person")
    return row


def _check_in(conn: Connection, event: EventEnvelope, fields: VolunteerEvent, actor: str, site: str, at: str) -> None:
    member = _member(conn, fields.person_key)
    if member.status != "active":
        raise Refused("inactive_member", int(member.id))
    lock_members(conn, [member.id])
    still_open = hours.open_shift(conn, int(member.id))
    if still_open is not None:
        hours.close_open(conn, still_open.id, flag="no_check_out", at=at, actor=actor)
    hours.check_in(conn, int(member.id), at=at, via="kiosk", actor=actor, site=site, event_id=str(event.id))


def _check_out(conn: Connection, event: EventEnvelope, fields: VolunteerEvent, actor: str, site: str,
               at: str) -> None:
    member = _member(conn, fields.person_key)
    lock_members(conn, [member.id], active=False)
    if fields.check_in_event is not None:  # its check-in may have been closed meanwhile (offline past 24 h)
        closed = conn.execute(select(tb_shifts.c.id).where(tb_shifts.c.in_event_id == fields.check_in_event,
                                                           tb_shifts.c.volunteer_id == member.id,
                                                           tb_shifts.c.status == "pending")).scalar()
        if closed is not None and hours.late_check_out(
                conn, int(closed), at=at, via="kiosk", actor=actor, cosigner_key=fields.cosigner_key,
                cosigned_via=fields.cosigned_via, event_id=str(event.id)) is not None:
            return
    if hours.open_shift(conn, int(member.id)) is None:
        shift_id = conn.execute(insert(tb_shifts).values(
            volunteer_id=member.id, category="companion", site=site, check_in_at=at, check_out_at=at,
            in_via="kiosk", out_via="kiosk", out_event_id=str(event.id), cosigner_key=fields.cosigner_key,
            cosigned_via=fields.cosigned_via, status="pending", flag="no_check_in")).inserted_primary_key[0]
        audit(conn, actor, "check_out_without_check_in", vol_account(int(member.id)), {"shift": int(shift_id)}, at=at)
        return
    hours.check_out(conn, int(member.id), at=at, via="kiosk", actor=actor, cosigner_key=fields.cosigner_key,
                    cosigned_via=fields.cosigned_via, event_id=str(event.id))


def _refuse(conn: Connection, event: EventEnvelope, actor: str, reason: str, detail: str,
            volunteer_id: int | None, person_key: str | None) -> None:
    subject = vol_account(volunteer_id) if volunteer_id is not None else actor
    audit(conn, actor, "kiosk_event_refused", subject,
          {"event": str(event.id), "type": event.type, "reason": reason, "detail": detail[:300],
           "person_key": person_key, "occurred_at": event.occurred_at.isoformat()})
    log.warning("volunteer event refused", extra={"event": "timebank_event_refused", "event_id": str(event.id),
                                                  "reason": reason})


def post_volunteer_events(conn: Connection, terminal_id: str, site: str, role: str,
                          events: Sequence[EventEnvelope]) -> None:
    """Record each volunteer event of the push as a shift change, or audit why it could not be."""
    if not any(e.type in TYPES for e in events):
        return  # a push without volunteer events costs the Time Bank nothing (the hourly task closes the rest)
    actor = f"terminal:{terminal_id}"
    keys = sorted({e.payload.get("person_key") for e in events if e.type in TYPES
                   and isinstance(e.payload.get("person_key"), str) and _KEY.match(e.payload["person_key"])})
    if keys and role in ROLES:  # every member of the push locked up front, in id order, as every coin writer does
        ids = conn.execute(select(tb_volunteers.c.id).where(tb_volunteers.c.person_key.in_(keys))).scalars()
        lock_members(conn, set(ids), active=False)
    for event in events:
        if event.type not in TYPES:
            continue
        raw_key = event.payload.get("person_key")
        key = raw_key if isinstance(raw_key, str) and _KEY.match(raw_key) else None
        try:
            if role not in ROLES:
                raise Refused(f"role_{role}")
            fields = parse_payload(event.type, event.payload)
            at = utc_text(event.occurred_at)
            with conn.begin_nested():
                (_check_in if event.type == "volunteer.check_in" else _check_out)(conn, event, fields, actor, site, at)
        except Refused as refused:
            _refuse(conn, event, actor, refused.reason, "", refused.volunteer_id, key)
        except BadPayload as bad:
            _refuse(conn, event, actor, "bad_payload", str(bad), None, key)
        except CentralError as exc:
            _refuse(conn, event, actor, exc.reason, exc.detail, None, key)
        except SQLAlchemyError:
            raise
        except Exception as exc:  # a bug must not lose the event or block the terminal: keep it visible
            log.exception("volunteer event failed", extra={"event": "timebank_event_failed", "event_id": str(event.id)})
            _refuse(conn, event, actor, "internal_error", f"{type(exc).__name__}: {exc}", None, key)
    hours.close_forgotten(conn, now_text())
