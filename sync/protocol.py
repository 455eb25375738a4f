"""The sync protocol between terminals and the central service, version 1: shared pydantic schemas.

Both sides import these models; the central's OpenAPI schema is generated from them.

Push (``POST /v1/events/push``): a terminal sends a batch of outbox events.  The central
stores each event once, unique on ``id``; a repeat of a stored event (same id, same body)
gets the original acknowledgement back (``duplicate``), a repeat with a different body is
refused (``conflict``) and logged.  Per terminal ``seq`` is tracked: gaps are reported in
the answer, never hidden.  The terminal marks outbox rows only after their ack.

Pull (``GET /v1/reference/changes?cursor=N&limit=M``): reference data as a change feed per
site with a cursor; a terminal applies one page in one local transaction with its cursor.

Heartbeat (``POST /v1/heartbeat``): device status and outbox length.  Enrolment
(``POST /v1/admin/enrol``, admin token) issues a terminal's credentials.

Authentication: ``Authorization: Bearer <token>``; the central keeps only a hash of each
token.  Every request carries ``X-Linfen-Protocol: 1``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from common.roles import RoleName

PROTOCOL_VERSION = 1
PROTOCOL_HEADER = "X-Linfen-Protocol"
MAX_BATCH = 500  # events in one push
MAX_PAYLOAD_BYTES = 16 * 1024  # one event's payload as JSON
MAX_BODY_BYTES = 4 * 1024 * 1024  # one request body

Role = RoleName  # every declared role, built or not: a terminal can be enrolled before its role runs
ReferenceKind = Literal[
    "priority_register", "card", "blacklist", "balance", "menu", "price", "screening", "space", "locker",
    "permit", "issuer_key", "terminal_config", "policy", "volunteer",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventEnvelope(_Model):
    """One immutable event from a terminal's outbox (DESIGN §6)."""

    id: UUID
    terminal_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    seq: int = Field(ge=1, strict=True, description="per-terminal, gap-free, from 1 (a JSON integer: not \"5\", "
                                                    "not true)")
    type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.]+$")
    occurred_at: datetime
    payload: dict[str, Any]
    schema_: int = Field(1, ge=1, le=1000, alias="schema", strict=True)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PushRequest(_Model):
    """A batch of events from one terminal."""

    terminal_id: str = Field(min_length=1, max_length=64)
    events: list[EventEnvelope] = Field(max_length=MAX_BATCH)


class Ack(_Model):
    """What the central did with one event."""

    id: UUID
    seq: int
    status: Literal["stored", "duplicate", "conflict"]
    stored_at: datetime | None = None  # when it was first stored (None for a conflict)


class SeqGap(_Model):
    """A run of sequence numbers the central has not seen (inclusive)."""

    first: int
    last: int


class PushResponse(_Model):
    """The acknowledgement of a push."""

    acks: list[Ack]
    highest_seq: int = Field(description="highest seq stored for this terminal")
    gaps: list[SeqGap] = Field(default_factory=list, description="missing runs below highest_seq: at most "
                               "100, the lowest first")
    gap_count: int = Field(0, ge=0, description="how many missing runs there are in all (gaps may show fewer)")


class Change(_Model):
    """One reference-data change."""

    cursor: int = Field(ge=1, description="position in the site's change feed")
    kind: ReferenceKind
    key: str = Field(min_length=1, max_length=200)
    op: Literal["upsert", "delete"]
    data: dict[str, Any] | None = None


class ChangesResponse(_Model):
    """A page of the change feed."""

    changes: list[Change]
    cursor: int = Field(ge=0, description="pass this back to get the next page")
    more: bool


class DeviceState(_Model):
    """A device's state in a heartbeat."""

    up: bool
    reason: str = Field("", max_length=200)


class HeartbeatRequest(_Model):
    """A terminal saying it is alive."""

    terminal_id: str = Field(min_length=1, max_length=64)
    at: datetime
    devices: dict[str, DeviceState] = Field(default_factory=dict)
    outbox_pending: int = Field(0, ge=0, strict=True)
    last_push_at: datetime | None = None
    quarantined_events: int = Field(0, ge=0, strict=True, description="outbox events refused for good, kept aside")
    skipped_changes: int = Field(0, ge=0, strict=True, description="reference changes the terminal could not "
                                                                   "apply and skipped")
    feed_age_s: float | None = Field(None, ge=0, le=10 ** 9, allow_inf_nan=False, description=(
        "seconds since the terminal last applied the whole reference feed: how far behind its deny list and "
        "balances may be (null: never)"))


class HeartbeatResponse(_Model):
    """The central's answer: its clock, for the terminal to notice skew."""

    server_time: datetime


class EnrolRequest(_Model):
    """An operator enrolling a terminal."""

    terminal_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    role: Role
    site: str = Field(min_length=1, max_length=64)


class EnrolResponse(_Model):
    """The terminal's credentials (the token is shown once)."""

    terminal_id: str
    role: Role
    site: str
    token: str


class ErrorBody(_Model):
    """Every refusal: a machine reason and words."""

    reason: str
    detail: str
