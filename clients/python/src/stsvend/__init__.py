"""AWS credentials from stsvend for boto3.

    import stsvend
    session = stsvend.boto3_session("https://stsvend.example.com", token=pathlib.Path("/run/stsvend/token"))

The session's keys refresh through botocore's RefreshableCredentials; ``Client`` also gives the
storage (bucket, prefix, region, endpoint) and pre-signed URLs and forms.
"""

from ._client import (
    Client,
    PresignedPost,
    PresignedUrl,
    Storage,
    Vend,
    boto3_session,
    presign,
    storage,
)
from ._errors import Forbidden, RateLimited, StsvendError, TokenRejected, Unavailable
from ._http import Token

__all__ = [
    "Client",
    "Forbidden",
    "PresignedPost",
    "PresignedUrl",
    "RateLimited",
    "Storage",
    "StsvendError",
    "Token",
    "TokenRejected",
    "Unavailable",
    "Vend",
    "boto3_session",
    "presign",
    "storage",
]
