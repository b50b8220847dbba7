#!/usr/bin/env python3
"""Load for the quota benchmark (scripts/bench-quota.sh, BENCHMARKS.md "Issue 25").

  fill-queue   send N S3 event notifications (one record per message, as S3 sends them) for
               objects under <root>/<user id>/ of a shared bucket, spread over U users, to the
               usage queue; prints the exact totals they add up to (JSON), which the
               benchmark compares with the ledger.
  fill-prefix  put N small objects under a prefix of a bucket (the storage a reconciliation
               then lists), with T threads.

Talks to the local MiniStack only (MINISTACK_PORT), with its root keys.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

REGION = "us-east-1"


def client(service: str):
    port = os.environ.get("MINISTACK_PORT", "4566")
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 5}, max_pool_connections=64),
    )


def user_id(i: int) -> str:
    """A valid stsvend user id (26 lowercase base32 characters), stable per index."""
    digest = hashlib.sha256(f"bench-quota-{i}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:26]


def event(bucket: str, key: str, size: int, sequencer: int) -> str:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": key, "size": size, "sequencer": f"{sequencer:016X}"},
        },
    }
    return json.dumps({"Records": [record]})


def fill_queue(args) -> None:
    sqs = client("sqs")
    rng = random.Random(args.seed)
    base = time.time_ns() // 1000
    messages, totals = [], {}
    for i in range(args.events):
        uid = user_id(i % args.users)
        size = rng.randint(1, 1_000_000)
        key = f"{args.root}/{uid}/bench-{i}"
        messages.append(event(args.bucket, key, size, base + i))
        t = totals.setdefault(uid, [0, 0])
        t[0] += size
        t[1] += 1

    def send(chunk):
        entries = [{"Id": str(n), "MessageBody": body} for n, body in enumerate(chunk)]
        failed = sqs.send_message_batch(QueueUrl=args.queue_url, Entries=entries).get("Failed", [])
        if failed:
            raise SystemExit(f"send_message_batch failed: {failed[:1]}")

    chunks = [messages[i : i + 10] for i in range(0, len(messages), 10)]
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(send, chunks))
    json.dump(
        {
            "events": args.events,
            "bytes": sum(t[0] for t in totals.values()),
            "objects": sum(t[1] for t in totals.values()),
            "users": {uid: {"bytes": b, "objects": o} for uid, (b, o) in totals.items()},
        },
        sys.stdout,
    )


def fill_prefix(args) -> None:
    s3 = client("s3")

    def put(i):
        s3.put_object(Bucket=args.bucket, Key=f"{args.prefix}obj-{i:07d}", Body=b"x" * args.size)

    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(put, range(args.objects)))
    print(json.dumps({"objects": args.objects, "bytes": args.objects * args.size}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("fill-queue")
    q.add_argument("--queue-url", required=True)
    q.add_argument("--bucket", required=True)
    q.add_argument("--root", default="users")
    q.add_argument("--users", type=int, default=100)
    q.add_argument("--events", type=int, default=20_000)
    q.add_argument("--threads", type=int, default=8)
    q.add_argument("--seed", type=int, default=25)
    f = sub.add_parser("fill-prefix")
    f.add_argument("--bucket", required=True)
    f.add_argument("--prefix", required=True)
    f.add_argument("--objects", type=int, default=100_000)
    f.add_argument("--size", type=int, default=16)
    f.add_argument("--threads", type=int, default=16)
    args = p.parse_args()
    {"fill-queue": fill_queue, "fill-prefix": fill_prefix}[args.cmd](args)


if __name__ == "__main__":
    main()
