"""The central's own routes, outside any module: ``/health`` and ``/metrics`` (open to whoever reaches the port).

``/health`` answers 200 only when the database answers *and* (SQLite) its filesystem can take
writes: at least :data:`MIN_FREE_BYTES` free (``app.state.min_free_bytes``) and a small probe
file written and synced next to the database; otherwise 503 ``disk_full`` with the words (a
database that answers reads while the disk is full would otherwise look healthy).

``/metrics`` shows terminal gauges aggregated, naming no terminal or site, unless the request
carries the admin token (:mod:`.metrics`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from .auth import check_admin
from .deps import error_responses, json_response
from .errors import ApiError
from .metrics import CONTENT_TYPE

router = APIRouter()

MIN_FREE_BYTES = 64 * 1024 * 1024  # free space the database's filesystem must keep for /health to say ok
_PROBE_BYTES = 4096


class HealthResponse(BaseModel):
    """The central is up, its database answers and its disk takes writes."""

    status: str
    database: str
    disk: str = Field(description="ok, or 'not local' when the database is a server (PostgreSQL)")
    backend: str
    schema_version: int = Field(description="the sync module's schema version (the database's only version "
                                            "before each module had its own)")
    schema_versions: dict[str, int] = Field(description="every module's schema version")


def disk_problem(directory: Path, min_free: int) -> str | None:
    """Why ``directory``'s filesystem cannot take the database's writes, or None when it can."""
    try:
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        return f"cannot look at the database's filesystem ({exc.strerror or exc})"
    if free < min_free:
        return f"only {free} bytes free on the database's filesystem; at least {min_free} are needed"
    try:
        fd, name = tempfile.mkstemp(prefix=".linfen-health-", dir=directory)
    except OSError as exc:
        return f"cannot write next to the database ({exc.strerror or exc})"
    try:
        os.write(fd, b"\0" * _PROBE_BYTES)
        os.fsync(fd)
    except OSError as exc:
        return f"cannot write next to the database ({exc.strerror or exc})"
    finally:
        os.close(fd)
        os.unlink(name)
    return None


@router.get("/health", response_model=HealthResponse, responses=error_responses(503),
            summary="Up, the database answers and its disk takes writes")
def health(request: Request) -> Response:
    """``ok`` with the backend and each module's schema version; 503 when the database does not answer
    (``storage_unavailable``) or its disk is full (``disk_full``)."""
    store = request.app.state.store
    versions = store.ping()
    disk = "not local"
    if store.data_dir is not None:
        problem = disk_problem(store.data_dir, getattr(request.app.state, "min_free_bytes", MIN_FREE_BYTES))
        if problem:
            raise ApiError(503, "disk_full", problem)
        disk = "ok"
    return json_response(HealthResponse(status="ok", database="ok", disk=disk, backend=store.backend,
                                        schema_version=versions.get("sync", 0), schema_versions=versions))


def _is_admin(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    try:
        check_admin(token.strip(), request.app.state.admin_token)
    except ApiError:
        return False
    return True


@router.get("/metrics", response_class=Response, summary="Prometheus metrics",
            responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}}})
def metrics_text(request: Request) -> Response:
    """Counters, terminal gauges (per terminal with the admin token, else aggregated) and schema versions."""
    store = request.app.state.store
    body = request.app.state.metrics.render(store.terminal_states(), store.ping(), per_terminal=_is_admin(request))
    return Response(body, media_type=CONTENT_TYPE)
