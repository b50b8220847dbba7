"""What a failed call to stsvend tells its caller."""

from __future__ import annotations

import json
from typing import Optional


class StsvendError(Exception):
    """stsvend refused or could not answer.

    ``code`` is the stable code of stsvend's error envelope (``token_expired``,
    ``insufficient_scope``, ``rate_limited``, ...), ``network_error`` when no answer arrived,
    ``no_token`` when the token source gave none, or ``http_<status>`` for an answer that was not
    stsvend's. ``status`` is 0 when no answer arrived; ``retry_after`` the seconds stsvend asked
    to wait, when it did. The message never contains the token.
    """

    def __init__(self, status: int, code: str, message: str, retry_after: Optional[float] = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether asking again later may succeed as it is (429, 502-504, no answer)."""
        return self.status in (0, 429, 502, 503, 504) and self.code != "no_token"


class TokenRejected(StsvendError):
    """401: the token was refused (expired, wrong issuer or audience...). Only a new token helps."""


class Forbidden(StsvendError):
    """403: the token is good but may not have this (scope, disabled user, a required claim)."""


class RateLimited(StsvendError):
    """429: still after the retries, or with a Retry-After longer than the client waits."""


class Unavailable(StsvendError):
    """503 (or a proxy's 502/504, or no answer at all) still after the retries."""


def error_from_answer(status: int, text: str, retry_after_header: Optional[str]) -> StsvendError:
    """stsvend's envelope ``{"error": {"code", "message"}}``; anything else keeps its status."""
    code, message = f"http_{status}", text[:200].strip()
    try:
        body = json.loads(text)
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            code = err.get("code") if isinstance(err.get("code"), str) else code
            message = err.get("message") if isinstance(err.get("message"), str) else message
    except ValueError:
        pass  # not JSON: a proxy's or a server's own page
    retry_after = None
    if retry_after_header is not None and retry_after_header.strip().isdigit():
        retry_after = float(retry_after_header.strip())
    wait = "" if retry_after is None else f" (retry after {retry_after:g} s)"
    cls = {401: TokenRejected, 403: Forbidden, 429: RateLimited, 502: Unavailable, 503: Unavailable, 504: Unavailable}
    return cls.get(status, StsvendError)(status, code, f"stsvend: {status} {code}: {message}{wait}", retry_after)
