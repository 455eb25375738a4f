"""The central's storage facade: one object the API, the CLI, tests and benches all use.

    store = CentralStore.open("central.db")          # or "postgresql://user:pw@host/db"
    creds = store.enrol(role="hall", site="linfen-road", terminal_id="hall-01")
    store.push("hall-01", [EventEnvelope(...), ...])  # -> PushOutcome (acks, highest seq, gaps)
    store.apply_reference("linfen-road", "card", [RowChange(...)], replace=False)
    store.close()

Opening runs every module's migrations (:mod:`.migrations`, :mod:`.modules`).  Every write is one transaction
(:func:`.db.write_transaction`); callers get an answer only after the commit.
"""

from __future__ import annotations

import json
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..protocol import EnrolResponse, EventEnvelope, HeartbeatRequest, Role
from .auth import TERMINAL_ID, Terminal, check_terminal, new_token, token_hash, token_terminal_id
from .db import backend_of, now_text, open_engine, read_transaction, safe_url, write_transaction
from .errors import CentralError
from .events import PushOutcome, store_batch
from .migrations import MigrationSet, current_versions, migrate
from .modules import EVENT_CONSUMERS, MIGRATION_SETS, EventConsumer
from .reference import ApplyResult, RowChange, apply_changes, changes_page_json
from .sync_api.schema import events, heartbeats, sites, terminals

MAX_SITE_CHARS = 64  # longest site name


@dataclass(frozen=True)
class TerminalState:
    """One terminal's sync state for ``/metrics`` and operators."""

    terminal_id: str
    site: str
    revoked: bool
    highest_seq: int
    missing: int  # seq numbers below highest_seq not stored
    last_heartbeat: str | None
    outbox_pending: int | None
    quarantined_events: int = 0  # from the last heartbeat: outbox events refused for good
    skipped_changes: int = 0  # from the last heartbeat: reference changes it could not apply
    feed_age_s: float | None = None  # from the last heartbeat: how far behind its deny list and balances may be


def database_problem(exc: SQLAlchemyError) -> str:
    """The driver's first line for ``exc`` (``file is not a database``, ``connection refused`` ...)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def check_site(site: str) -> str:
    """A site name as stored: NFKC-normalised (``s１`` is ``s1``), printable, no surrounding blanks, 1-64 characters."""
    if isinstance(site, str):
        site = unicodedata.normalize("NFKC", site)
    if not isinstance(site, str) or not site or site != site.strip() or not site.isprintable() \
            or len(site) > MAX_SITE_CHARS:
        raise CentralError("bad_site", f"site {site!r} must be 1-{MAX_SITE_CHARS} printable characters "
                           "without surrounding blanks")
    return site


def _claim_site(conn: Connection, site: str) -> None:
    """Refuse ``site`` (normalised) when an existing site differs from it only in case or Unicode form."""
    known = set(conn.execute(select(terminals.c.site).distinct()).scalars())
    known |= set(conn.execute(select(sites.c.site)).scalars())
    if site in known:
        return
    key = site.casefold()
    clash = sorted(k for k in known if unicodedata.normalize("NFKC", k).casefold() == key)
    if clash:
        raise CentralError("site_lookalike", f"site {site!r} looks like the existing site {clash[0]!r}: use that "
                           "exact name (site names must differ by more than case or character width)")


class CentralStore:
    """The central database behind the sync API."""

    def __init__(self, engine: Engine, migrations: tuple[MigrationSet, ...] = MIGRATION_SETS,
                 consumers: tuple[EventConsumer, ...] = EVENT_CONSUMERS) -> None:
        """Wrap an engine made by :func:`.db.open_engine` (``migrations`` already run).

        ``consumers`` are the modules' hooks :meth:`push` calls with newly stored events.
        """
        self.engine = engine
        self.migrations = migrations
        self.consumers = consumers

    @classmethod
    def open(cls, db: str | Path, *, run_migrations: bool = True,
             migrations: tuple[MigrationSet, ...] = MIGRATION_SETS,
             consumers: tuple[EventConsumer, ...] = EVENT_CONSUMERS) -> CentralStore:
        """Open ``db`` (SQLite path or URL) and bring every module's schema up to date."""
        engine = open_engine(db)
        try:
            if run_migrations:
                migrate(engine, migrations)
            else:
                engine.connect().close()
        except SQLAlchemyError as exc:
            engine.dispose()
            raise CentralError("db_unavailable", f"--db {safe_url(engine)}: {database_problem(exc)}") from None
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, migrations, consumers)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return backend_of(self.engine)

    @property
    def data_dir(self) -> Path | None:
        """The directory of the SQLite file (None for PostgreSQL, whose disk is the server's)."""
        if self.backend != "sqlite" or not self.engine.url.database:
            return None
        return Path(self.engine.url.database).parent

    @property
    def url(self) -> str:
        """The database URL with its password hidden."""
        return safe_url(self.engine)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # -- terminals ---------------------------------------------------------------------------
    def enrol(self, role: Role, site: str, terminal_id: str | None = None) -> EnrolResponse:
        """Enrol a terminal and return its credentials; the token is not kept, only its hash."""
        site = check_site(site)
        terminal_id = terminal_id or f"{role}-{secrets.token_hex(4)}"
        if not TERMINAL_ID.match(terminal_id):
            raise CentralError("bad_terminal_id", f"terminal id {terminal_id!r} may hold only letters, digits, "
                               "'_', '.' and '-' (1-64 characters)")
        token = new_token(terminal_id)
        try:
            with write_transaction(self.engine) as conn:
                _claim_site(conn, site)
                conn.execute(insert(terminals).values(
                    terminal_id=terminal_id, role=role, site=site, token_hash=token_hash(token),
                    enrolled_at=now_text(), highest_seq=0))
        except IntegrityError:
            raise CentralError("already_enrolled", f"terminal {terminal_id} is already enrolled (a revoked id "
                               "stays retired): choose another --terminal-id") from None
        return EnrolResponse(terminal_id=terminal_id, role=role, site=site, token=token)

    def revoke(self, terminal_id: str, reason: str = "") -> str:
        """Refuse ``terminal_id`` from now on; returns when it was revoked (the first time)."""
        with write_transaction(self.engine) as conn:
            row = conn.execute(select(terminals.c.revoked_at).where(terminals.c.terminal_id == terminal_id)).first()
            if row is None:
                raise CentralError("unknown_terminal", f"no terminal {terminal_id!r} is enrolled")
            if row.revoked_at is not None:
                return str(row.revoked_at)
            when = now_text()
            conn.execute(update(terminals).where(terminals.c.terminal_id == terminal_id)
                         .values(revoked_at=when, revoked_reason=reason[:200] or None))
            return when

    def terminal(self, terminal_id: str) -> Terminal | None:
        """The enrolled terminal ``terminal_id``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(terminals).where(terminals.c.terminal_id == terminal_id)).first()
        if row is None:
            return None
        return Terminal(row.terminal_id, row.role, row.site, row.token_hash, row.revoked_at, row.revoked_reason)

    def authenticate(self, token: str) -> Terminal:
        """The terminal whose valid, unrevoked token this is; :class:`ApiError` 401/403 otherwise."""
        terminal_id = token_terminal_id(token)
        found = self.terminal(terminal_id) if terminal_id else None
        return check_terminal(token, found)

    # -- events ------------------------------------------------------------------------------
    def push(self, terminal_id: str, batch: Sequence[EventEnvelope]) -> PushOutcome:
        """Store ``batch`` of ``terminal_id`` in one transaction; the outcome exists only after commit.

        The events acknowledged ``stored`` then go to every module's consumer (:mod:`.modules`)
        in the same transaction, so an event and what a module made of it commit together.
        """
        with write_transaction(self.engine) as conn:
            outcome = store_batch(conn, terminal_id, batch, now_text())
            if outcome.stored and self.consumers:
                fresh = [e for e, ack in zip(batch, outcome.response.acks, strict=True) if ack.status == "stored"]
                who = conn.execute(select(terminals.c.site, terminals.c.role)
                                   .where(terminals.c.terminal_id == terminal_id)).one()
                for consume in self.consumers:
                    consume(conn, terminal_id, who.site, who.role, fresh)
            return outcome

    def heartbeat(self, beat: HeartbeatRequest) -> None:
        """Keep ``beat`` as the terminal's latest heartbeat."""
        values = {
            "terminal_id": beat.terminal_id, "at": beat.at.isoformat(), "received_at": now_text(),
            "devices": json.dumps({k: v.model_dump() for k, v in beat.devices.items()}, ensure_ascii=False),
            "outbox_pending": beat.outbox_pending,
            "last_push_at": beat.last_push_at.isoformat() if beat.last_push_at else None,
            "quarantined_events": beat.quarantined_events, "skipped_changes": beat.skipped_changes,
            "feed_age_s": beat.feed_age_s,
        }
        dialect = postgresql if self.backend == "postgresql" else sqlite
        stmt = dialect.insert(heartbeats).values(**values)
        stmt = stmt.on_conflict_do_update(index_elements=[heartbeats.c.terminal_id],
                                          set_={k: stmt.excluded[k] for k in values if k != "terminal_id"})
        with write_transaction(self.engine) as conn:
            conn.execute(stmt)

    def event_count(self, terminal_id: str | None = None) -> int:
        """Events stored (of one terminal, or all)."""
        query = select(func.count()).select_from(events)
        if terminal_id is not None:
            query = query.where(events.c.terminal_id == terminal_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def stored_seqs(self, terminal_id: str) -> list[int]:
        """Every seq stored for ``terminal_id``, ascending (for tests and checks)."""
        with self.engine.connect() as conn:
            return [int(s) for s in conn.execute(
                select(events.c.seq).where(events.c.terminal_id == terminal_id).order_by(events.c.seq)).scalars()]

    def stored_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are stored."""
        wanted = sorted(set(ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                found.update(conn.execute(select(events.c.id).where(events.c.id.in_(chunk))).scalars())
        return found

    # -- reference data ----------------------------------------------------------------------
    def apply_reference(self, site: str, kind: str, changes: Iterable[RowChange], *, replace: bool = False
                        ) -> ApplyResult:
        """Write reference ``changes`` of ``kind`` to ``site``'s change feed in one transaction."""
        site = check_site(site)
        with write_transaction(self.engine) as conn:
            _claim_site(conn, site)
            return apply_changes(conn, site, kind, changes, replace=replace, changed_at=now_text())

    def changes_json(self, site: str, cursor: int, limit: int) -> str:
        """One page of ``site``'s change feed after ``cursor`` as ``ChangesResponse`` JSON."""
        with read_transaction(self.engine) as conn:
            return changes_page_json(conn, site, cursor, limit)

    # -- operations --------------------------------------------------------------------------
    def ping(self) -> dict[str, int]:
        """Run a query; returns each module's schema version (raises when the database is unreachable)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return current_versions(self.engine, self.migrations)

    def terminal_states(self) -> list[TerminalState]:
        """Every terminal's highest seq, missing count and last heartbeat."""
        query = (
            select(terminals.c.terminal_id, terminals.c.site, terminals.c.revoked_at, terminals.c.highest_seq,
                   terminals.c.gap_missing.label("missing"), heartbeats.c.received_at, heartbeats.c.outbox_pending,
                   heartbeats.c.quarantined_events, heartbeats.c.skipped_changes, heartbeats.c.feed_age_s)
            .outerjoin(heartbeats, heartbeats.c.terminal_id == terminals.c.terminal_id)
            .order_by(terminals.c.terminal_id)
        )
        with self.engine.connect() as conn:
            return [TerminalState(r.terminal_id, r.site, r.revoked_at is not None, int(r.highest_seq),
                                  int(r.missing or 0), r.received_at,
                                  None if r.outbox_pending is None else int(r.outbox_pending),
                                  int(r.quarantined_events or 0), int(r.skipped_changes or 0),
                                  None if r.feed_age_s is None else float(r.feed_age_s))
                    for r in conn.execute(query)]
