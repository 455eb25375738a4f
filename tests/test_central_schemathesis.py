"""Schemathesis against the central's own OpenAPI schema, on real uvicorn, both backends.

Generated requests, valid and invalid, with a valid bearer token (the terminal's, or the admin
token for ``/v1/admin/*``): no 5xx, every status documented, every body matching its schema.
Valid push and heartbeat bodies are pointed at the token's terminal so they reach storage.
Bounded: a fixed number of examples, no example database, no deadline.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

EXAMPLES = 120  # generated requests per mode and backend
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          ignored_auth]


def _aim_at(body: Any, terminal_id: str) -> None:
    if isinstance(body, dict):
        if isinstance(body.get("terminal_id"), str) and "events" in body or "at" in body:
            body["terminal_id"] = terminal_id
        for item in body.get("events", []) if isinstance(body.get("events"), list) else []:
            if isinstance(item, dict) and "terminal_id" in item:
                item["terminal_id"] = terminal_id


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_generated_requests_get_documented_answers_and_never_a_5xx(central, mode):
    token = central.enrol("hall-01")
    schema = schemathesis.openapi.from_dict(central.app.openapi())
    seen: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy(mode))
    def run(case: schemathesis.Case) -> None:
        if mode is GenerationMode.POSITIVE:
            _aim_at(case.body, "hall-01")
        bearer = central.admin_token if case.path.startswith("/v1/admin/") else token
        headers = {"Authorization": f"Bearer {bearer}"}
        if mode is GenerationMode.POSITIVE:
            headers[PROTOCOL_HEADER] = str(PROTOCOL_VERSION)  # negative mode sends wrong versions
        response = case.call_and_validate(base_url=central.url, headers=headers, checks=CHECKS, timeout=20)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1

    run()
    assert all(status < 500 for status in seen)
    if mode is GenerationMode.POSITIVE:
        assert seen.get(200, 0) > 0, seen
    else:
        assert sum(n for status, n in seen.items() if 400 <= status < 500) > 0, seen
