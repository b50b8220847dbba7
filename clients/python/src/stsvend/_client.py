"""The stsvend client: vends, storage information, pre-signed URLs, and a refreshing boto3 Session."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Optional

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials

from ._errors import StsvendError
from ._http import Token, Transport, checked_base


@dataclass(frozen=True)
class Storage:
    """Where the vended keys reach: ``s3://<bucket>/<prefix>``.

    ``prefix`` is ``""`` when the bucket is the user's alone (bucket mode) and ``users/<id>/`` in
    a shared bucket (prefix mode), where every key must start with it and a listing must ask for
    it: write ``prefix + name`` and list with ``Prefix=prefix``, and both modes work. ``endpoint``
    is set only for a custom S3 endpoint (use path-style addressing with it). ``org_bucket`` and
    ``org_prefix`` are the organisation's storage, when stsvend sends them.
    """

    bucket: str
    prefix: str
    region: str
    access: str
    endpoint: Optional[str] = None
    org_bucket: Optional[str] = None
    org_prefix: Optional[str] = None

    def place(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        return self.prefix + name


@dataclass(frozen=True)
class Vend:
    """One vend. ``repr`` shows the key id and expiry, never the secret parts."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    #: As stsvend wrote it (RFC 3339, UTC).
    expiration: str
    storage: Storage

    @property
    def expires_at(self) -> datetime:
        return datetime.fromisoformat(self.expiration.replace("Z", "+00:00"))


@dataclass(frozen=True)
class PresignedUrl:
    url: str
    method: str
    #: S3 refuses the URL from then on (never later than the signing keys' expiry).
    expires_at: datetime
    #: Headers to send exactly as given with the request (often none).
    headers: Dict[str, str]


@dataclass(frozen=True)
class PresignedPost:
    #: Where the form POSTs (multipart/form-data).
    url: str
    #: Fields to send as they are, before the ``file`` field.
    fields: Dict[str, str]
    expires_at: datetime


def _when(text: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise StsvendError(200, "invalid_response", f"stsvend: {text!r} is not a time") from None


def _read_vend(body: Any) -> Vend:
    b = body if isinstance(body, dict) else {}
    if b.get("Version") != 1:
        raise StsvendError(200, "invalid_response", f"stsvend: credentials version {b.get('Version')!r} (this client reads 1)")
    for name in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "Bucket", "Region"):
        if not isinstance(b.get(name), str):
            raise StsvendError(200, "invalid_response", f"stsvend: credentials without {name}")
    _when(b["Expiration"])
    text = lambda name: b[name] if isinstance(b.get(name), str) else None  # noqa: E731
    return Vend(
        access_key_id=b["AccessKeyId"],
        secret_access_key=b["SecretAccessKey"],
        session_token=b["SessionToken"],
        expiration=b["Expiration"],
        storage=Storage(
            bucket=b["Bucket"],
            # Absent from an stsvend older than prefix mode: the bucket is then the user's own.
            prefix=text("Prefix") or "",
            region=b["Region"],
            access=text("Access") or "",
            endpoint=text("Endpoint"),
            org_bucket=text("OrgBucket"),
            org_prefix=text("OrgPrefix"),
        ),
    )


class Client:
    """stsvend at ``url`` for the user whose access token ``token`` gives.

    ``token``: the JWT (``str``, ``Bearer `` in front accepted), a file holding it
    (``pathlib.Path``; read again before every vend), or a function returning it. ``access``
    picks a template (``read-only``, ...). 429, 503 (and a proxy's 502/504, or no answer) are
    retried with backoff, honouring ``Retry-After``, ``max_attempts`` in all and never pausing
    longer than ``max_retry_wait`` seconds; 401 and 403 never are. Plain ``http://`` is refused
    except to loopback hosts unless ``allow_insecure_http``.
    """

    def __init__(
        self,
        url: str,
        token: Token,
        *,
        access: Optional[str] = None,
        max_attempts: int = 3,
        max_retry_wait: float = 10.0,
        timeout: float = 10.0,
        allow_insecure_http: bool = False,
    ):
        self._transport = Transport(checked_base(url, allow_insecure_http), token, max_attempts, max_retry_wait, timeout)
        self._access = access
        self._lock = threading.Lock()
        self._last: Optional[Vend] = None

    def __repr__(self) -> str:
        return f"stsvend.Client({self._transport.base!r}, access={self._access!r})"

    def vend(self) -> Vend:
        """Asks stsvend for keys now."""
        v = _read_vend(self._transport.post("/v1/credentials", {"access": self._access} if self._access else None))
        with self._lock:
            self._last = v
        return v

    def storage(self) -> Storage:
        """Bucket, prefix, region, endpoint: from the last vend, or from a new one."""
        with self._lock:
            last = self._last
        return (last or self.vend()).storage

    def presign(self, method: str, key: str, *, expires_in: Optional[int] = None, access: Optional[str] = None) -> PresignedUrl:
        """A pre-signed URL for one request (GET, PUT, DELETE, HEAD) on ``key``, relative to the
        user's storage (stsvend puts it under their prefix)."""
        b = self._transport.post(
            "/v1/presign", {"method": method, "key": key, "expires_in": expires_in, "access": access or self._access}
        )
        return PresignedUrl(url=b["url"], method=b["method"], expires_at=_when(b.get("expires_at")), headers=b.get("headers") or {})

    def presign_post(
        self,
        *,
        key: Optional[str] = None,
        key_prefix: Optional[str] = None,
        max_bytes: Optional[int] = None,
        content_type: Optional[str] = None,
        expires_in: Optional[int] = None,
        access: Optional[str] = None,
    ) -> PresignedPost:
        """A signed browser form upload: exactly ``key``, or ``key_prefix`` and the file's name."""
        b = self._transport.post(
            "/v1/presign/post",
            {
                "key": key,
                "key_prefix": key_prefix,
                "max_bytes": max_bytes,
                "content_type": content_type,
                "expires_in": expires_in,
                "access": access or self._access,
            },
        )
        return PresignedPost(url=b["url"], fields=dict(b.get("fields") or {}), expires_at=_when(b.get("expires_at")))

    def boto3_session(self) -> boto3.Session:
        """A ``boto3.Session`` in the storage's region whose only credentials are stsvend's.

        They are botocore ``RefreshableCredentials``: botocore vends again (through this client)
        15 minutes before ``Expiration`` (advisory) and at the latest 10 minutes before
        (mandatory), and stsvend hands out cached keys only while more than
        ``aws.min_remaining_seconds`` (20 minutes) remain, so a refresh gets new keys.
        """
        first = self.vend()
        credentials = RefreshableCredentials.create_from_metadata(
            metadata=_metadata(first), refresh_using=lambda: _metadata(self.vend()), method=_Provider.METHOD
        )
        core = botocore.session.Session()
        # Only stsvend's keys: no fallback to the environment, a profile or instance metadata.
        core.register_component("credential_provider", CredentialResolver([_Provider(credentials)]))
        return boto3.Session(botocore_session=core, region_name=first.storage.region)

    def s3_client(self, **kwargs: Any):
        """An S3 client of :meth:`boto3_session`, pointed at the storage's endpoint (path-style)
        when stsvend names one. ``kwargs`` go to ``Session.client``."""
        session = self.boto3_session()
        endpoint = self.storage().endpoint
        if endpoint:
            from botocore.config import Config

            kwargs.setdefault("endpoint_url", endpoint)
            config = Config(s3={"addressing_style": "path"})
            kwargs["config"] = config.merge(kwargs["config"]) if "config" in kwargs else config
        return session.client("s3", **kwargs)


def _metadata(v: Vend) -> Dict[str, str]:
    return {
        "access_key": v.access_key_id,
        "secret_key": v.secret_access_key,
        "token": v.session_token,
        "expiry_time": v.expiration,
    }


class _Provider(CredentialProvider):
    METHOD = "stsvend"
    CANONICAL_NAME = "stsvend"

    def __init__(self, credentials: RefreshableCredentials):
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


def boto3_session(url: str, token: Token, **options: Any) -> boto3.Session:
    """``Client(url, token, **options).boto3_session()``: a boto3 Session on stsvend's keys."""
    return Client(url, token, **options).boto3_session()


def storage(url: str, token: Token, **options: Any) -> Storage:
    """``Client(url, token, **options).storage()``."""
    return Client(url, token, **options).storage()


def presign(url: str, token: Token, method: str, key: str, *, expires_in: Optional[int] = None, **options: Any) -> PresignedUrl:
    """``Client(url, token, **options).presign(method, key, expires_in=...)``."""
    return Client(url, token, **options).presign(method, key, expires_in=expires_in)
