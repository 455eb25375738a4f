"""The central service's one exception root, and the HTTP refusal built on it.

    CentralError            a problem an operator can fix (bad --db, bad --bind, unknown terminal);
    │                       the CLI prints it as one line and exits with status 2
    └── ApiError            a refusal of one HTTP request: status, machine reason, words;
                            rendered as the protocol's ``ErrorBody``

Reasons are short snake_case words a client can branch on (``revoked``, ``bad_token``,
``terminal_mismatch``, ``body_too_large``, ``malformed_request``...); ``detail`` is for people.
"""

from __future__ import annotations


class CentralError(Exception):
    """Something an operator can fix; ``reason`` is machine-readable, ``detail`` is the sentence."""

    def __init__(self, reason: str, detail: str) -> None:
        """An error with a machine ``reason`` and a human ``detail``."""
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class ApiError(CentralError):
    """One refused HTTP request; the app turns it into ``ErrorBody`` with ``status``."""

    def __init__(self, status: int, reason: str, detail: str, headers: dict[str, str] | None = None) -> None:
        """A refusal with HTTP ``status``, machine ``reason``, human ``detail`` and extra response headers."""
        super().__init__(reason, detail)
        self.status = status
        self.headers = headers or {}


def api_error_from(exc: CentralError) -> ApiError:
    """The HTTP refusal for a storage error an API caller caused."""
    status = {"already_enrolled": 409, "unknown_terminal": 404}.get(exc.reason, 422)
    return ApiError(status, exc.reason, exc.detail)
