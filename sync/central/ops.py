"""The central's own routes, outside any module: ``/health`` and ``/metrics`` (open to whoever reaches the port)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from .deps import error_responses, json_response
from .metrics import CONTENT_TYPE

router = APIRouter()


class HealthResponse(BaseModel):
    """The central is up and its database answers."""

    status: str
    database: str
    backend: str
    schema_version: int = Field(description="the sync module's schema version (the database's only version "
                                            "before each module had its own)")
    schema_versions: dict[str, int] = Field(description="every module's schema version")


@router.get("/health", response_model=HealthResponse, responses=error_responses(503),
            summary="Up, and the database answers")
def health(request: Request) -> Response:
    """``ok`` with the backend and each module's schema version; 503 when the database does not answer."""
    store = request.app.state.store
    versions = store.ping()
    return json_response(HealthResponse(status="ok", database="ok", backend=store.backend,
                                        schema_version=versions.get("sync", 0), schema_versions=versions))


@router.get("/metrics", response_class=Response, summary="Prometheus metrics",
            responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}}})
def metrics_text(request: Request) -> Response:
    """Counters, per-terminal gauges and schema versions in Prometheus' text format."""
    store = request.app.state.store
    return Response(request.app.state.metrics.render(store.terminal_states(), store.ping()), media_type=CONTENT_TYPE)
