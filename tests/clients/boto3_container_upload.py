#!/usr/bin/env python3
"""boto3 through the container-credentials provider: a multipart upload that outlives its keys.

Run by tests/api/container.rs and tests/api/clients/container.rs with, in the environment:
  AWS_CONTAINER_CREDENTIALS_FULL_URI       stsvend's GET /v1/credentials/container
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE   a file holding `Bearer <jwt>`
  S3_ENDPOINT, BUCKET, KEY, SIZE_MIB       where and what to upload
  PREFIX                                   the vend's `Prefix` (default ""): the object goes to
                                           PREFIX + KEY, and listing asks for PREFIX, as the
                                           session policy of a shared bucket requires
  PART_PAUSE_SECONDS                       pause after each part, so the upload outlives the keys

No AWS key variables are set: boto3's own credential chain finds the container provider.
Prints one JSON line: the access key ids boto3 signed with, in order, the ETag, the key, the
keys a listing of PREFIX shows, and the outcome of listing the whole bucket ("ok" or the S3
error code: AccessDenied in a shared bucket).
"""

import hashlib
import json
import os
import sys
import time

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

MIB = 1024 * 1024

session = boto3.session.Session(region_name="us-east-1")
s3 = session.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT"],
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)
keys_seen: list[str] = []


def note_key(request, **_):
    auth = request.headers.get("Authorization", b"")
    auth = auth.decode() if isinstance(auth, bytes) else auth
    # "AWS4-HMAC-SHA256 Credential=<AKID>/<date>/<region>/s3/aws4_request, ..."
    akid = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else "unsigned"
    if not keys_seen or keys_seen[-1] != akid:
        keys_seen.append(akid)


s3.meta.events.register("before-send.s3.*", note_key)

bucket = os.environ["BUCKET"]
key = os.environ.get("PREFIX", "") + os.environ["KEY"]
size = int(os.environ["SIZE_MIB"]) * MIB
pause = float(os.environ.get("PART_PAUSE_SECONDS", "0"))
data = os.urandom(size)
digest = hashlib.sha256(data).hexdigest()
part = 8 * MIB


class SlowReader:
    """A file-like body that pauses after each part's worth of bytes read."""

    def __init__(self, body: bytes):
        self.body, self.pos, self.next_pause = body, 0, part

    def read(self, n=-1):
        if self.pos >= self.next_pause:
            self.next_pause += part
            time.sleep(pause)
        end = len(self.body) if n is None or n < 0 else min(len(self.body), self.pos + n)
        chunk, self.pos = self.body[self.pos:end], end
        return chunk


config = TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=1, use_threads=False)
started = time.monotonic()
s3.upload_fileobj(SlowReader(data), bucket, key, Config=config)
elapsed = time.monotonic() - started
head = s3.head_object(Bucket=bucket, Key=key)
got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
listed = s3.list_objects_v2(Bucket=bucket, Prefix=os.environ.get("PREFIX", ""))
try:
    s3.list_objects_v2(Bucket=bucket)
    whole_bucket = "ok"
except ClientError as e:
    whole_bucket = e.response["Error"]["Code"]
json.dump(
    {
        "keys": keys_seen,
        "etag": head["ETag"],
        "key": key,
        "size": head["ContentLength"],
        "same_content": hashlib.sha256(got).hexdigest() == digest,
        "listed": [o["Key"] for o in listed.get("Contents", [])],
        "whole_bucket": whole_bucket,
        "seconds": round(elapsed, 1),
    },
    sys.stdout,
)
print()
