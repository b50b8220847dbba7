#!/usr/bin/env python3
"""A boto3 job on the container route that runs longer than its access token lives.

Run by tests/api/container/clients.rs while `stsvend-cli token-file` keeps the token file fresh.
Environment:
  AWS_CONTAINER_CREDENTIALS_FULL_URI       stsvend's GET /v1/credentials/container
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE   the file token-file keeps (`Bearer <jwt>`)
  S3_ENDPOINT, BUCKET                      where to write
  JOB_SECONDS                              how long to keep working

No AWS key variables are set: boto3's own credential chain finds the container provider, and
with keys that live under its 10-minute refresh window it fetches again (re-reading the token
file) before every request. Each round writes an object, reads it back and compares.
Prints one JSON line: rounds, the access key ids boto3 signed with (in order), the seconds run
and every failure; exits 1 on any failure.
"""

import json
import os
import sys
import time

from container_s3 import s3_noting_keys

s3, keys_seen = s3_noting_keys()

bucket = os.environ["BUCKET"]
deadline = time.monotonic() + float(os.environ["JOB_SECONDS"])
started = time.monotonic()
rounds, failures = 0, []
while time.monotonic() < deadline:
    key = f"job/{rounds}.bin"
    body = os.urandom(1024 + rounds)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if got != body:
            failures.append(f"{key}: read back {len(got)} bytes that differ")
    except Exception as e:  # noqa: BLE001 - every failure is reported, none is fatal to the loop
        failures.append(f"{key} at {time.monotonic() - started:.1f} s: {type(e).__name__}: {e}")
    rounds += 1
    time.sleep(0.5)

json.dump(
    {
        "rounds": rounds,
        "keys": keys_seen,
        "seconds": round(time.monotonic() - started, 1),
        "failures": failures,
    },
    sys.stdout,
)
print()
sys.exit(1 if failures else 0)
