#!/usr/bin/env python3
"""boto3 through the container-credentials provider: a multipart upload that outlives its keys.

Run by tests/api/container/route.rs and tests/api/container/clients.rs with, in the environment:
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

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from container_s3 import s3_noting_keys

MIB = 1024 * 1024

s3, keys_seen = s3_noting_keys()

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
