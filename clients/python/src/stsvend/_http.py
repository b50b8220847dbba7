"""One call to stsvend: the token asked for afresh, busy answers retried, refusals raised."""

from __future__ import annotations

import ipaddress
import json
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Optional, Union

from ._errors import StsvendError, Unavailable, error_from_answer

#: A token: the JWT itself (``str``), a file holding it (``os.PathLike``, e.g. ``pathlib.Path``;
#: read again before every call, so a file kept fresh by ``stsvend-cli token-file`` works), or a
#: function returning it.
Token = Union[str, "os.PathLike[str]", Callable[[], str]]

BASE_BACKOFF = 0.25
MAX_BACKOFF = 5.0


def checked_base(url: str, allow_insecure_http: bool) -> str:
    """The base URL without a trailing slash: https, or http to a loopback host."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StsvendError(0, "invalid_url", f"stsvend: {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not allow_insecure_http and not _loopback(parts.hostname):
        raise StsvendError(
            0,
            "invalid_url",
            f"stsvend: {parts.scheme}://{parts.netloc} is plain http, which sends the token in clear; "
            "use https (http only for localhost, 127.0.0.0/8 and [::1], or allow_insecure_http=True)",
        )
    return url.rstrip("/")


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(token: Token) -> str:
    if callable(token):
        raw = token()
    elif isinstance(token, os.PathLike):
        try:
            with open(token, encoding="utf-8") as f:
                raw = f.read()
        except OSError as e:
            raise StsvendError(0, "no_token", f"stsvend: token file {os.fspath(token)}: {e.strerror}") from None
    else:
        raw = token
    raw = (raw or "").strip()
    scheme, _, rest = raw.partition(" ")
    jwt = rest.strip() if scheme.lower() == "bearer" else ("" if raw.lower() == "bearer" else raw)
    if not jwt:
        raise StsvendError(0, "no_token", "stsvend: the token source gave an empty token")
    return jwt


class Transport:
    def __init__(self, base: str, token: Token, max_attempts: int, max_retry_wait: float, timeout: float):
        self.base = base
        self.token = token
        self.max_attempts = max(1, max_attempts)
        self.max_retry_wait = max_retry_wait
        self.timeout = timeout

    def post(self, path: str, body: Optional[dict] = None) -> Any:
        """POSTs ``body`` (JSON, when given); the parsed JSON of a 2xx answer."""
        attempt = 1
        while True:
            try:
                return self._once(path, body)
            except StsvendError as e:
                pause = self._pause_after(attempt, e)
                if pause is None:
                    raise
            time.sleep(pause)
            attempt += 1

    def _once(self, path: str, body: Optional[dict]) -> Any:
        # Asked every attempt: the file or the function may have a newer token by now.
        headers = {"Authorization": f"Bearer {read_token(self.token)}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - checked scheme
                text = resp.read().decode("utf-8", "replace")
                status = resp.status
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            raise error_from_answer(e.code, text, e.headers.get("Retry-After")) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise Unavailable(0, "network_error", f"stsvend: no answer from {self.base}: {reason}") from None
        try:
            return json.loads(text)
        except ValueError:
            raise StsvendError(status, "invalid_response", f"stsvend: {path} answered {status} with no JSON") from None

    def _pause_after(self, attempt: int, e: StsvendError) -> Optional[float]:
        if not e.retryable or attempt >= self.max_attempts:
            return None
        if e.retry_after is not None:
            pause = e.retry_after
        else:
            full = min(BASE_BACKOFF * 2 ** (attempt - 1), MAX_BACKOFF)
            pause = full / 2 + random.uniform(0, full / 2)
        return pause if pause <= self.max_retry_wait else None
