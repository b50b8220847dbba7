#!/usr/bin/env python3
"""Seed a MiniStack (AUTH=true) account the way an admin would seed AWS for stsvend.

Idempotent: running it again updates policies in place and rotates the service
user's access key (old keys are deleted, one fresh key is created).

With MiniStack's root credentials (test/test, account 000000000000):
  * IAM user  $STSVEND_SERVICE_USER (default stsvend-service) with a least-privilege
    inline policy: bucket create/configure/verify/delete on arn:aws:s3:::<prefix>-*,
    and sts:AssumeRole/TagSession/SetSourceIdentity on the vend role only.
  * The role  $STSVEND_ROLE_NAME (default stsvend-vend) is made by the service's own
    `stsvend bootstrap` (binary $STSVEND_BIN, default $CARGO_TARGET_DIR/debug/stsvend), run
    with the root keys and `--principal-arn <the user>`: trust the user only, s3:* on
    <prefix>-* buckets and objects, MaxSessionDuration >= the configured duration.
  * ${STSVEND_RUN_DIR:-$ROOT/.run}/service-credentials.env (mode 0600) with the user's fresh key.

Env: MINISTACK_PORT (4566), STSVEND_ROLE_NAME, STSVEND_BUCKET_PREFIX (stsvend),
     STSVEND_SERVICE_USER, STSVEND_ROOT (repo root; default: parent of scripts/), STSVEND_BIN.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# MiniStack's root caller under AUTH=true: access key "test" (or the server's own
# AWS_ACCESS_KEY_ID, which ministack.sh never sets), secret "test" (or the server's
# AWS_SECRET_ACCESS_KEY). See ministack/core/iam_evaluator.py: is_root_access_key().
ROOT_ACCESS_KEY_ID = "test"
ROOT_SECRET_ACCESS_KEY = "test"
REGION = "us-east-1"

PORT = os.environ.get("MINISTACK_PORT", "4566")
ENDPOINT = f"http://127.0.0.1:{PORT}"
ROLE_NAME = os.environ.get("STSVEND_ROLE_NAME", "stsvend-vend")
PREFIX = os.environ.get("STSVEND_BUCKET_PREFIX", "stsvend")
USER_NAME = os.environ.get("STSVEND_SERVICE_USER", "stsvend-service")
REPO_ROOT = Path(os.environ.get("STSVEND_ROOT") or Path(__file__).resolve().parent.parent)
RUN_DIR = Path(os.environ.get("STSVEND_RUN_DIR") or REPO_ROOT / ".run")
CREDS_FILE = RUN_DIR / "service-credentials.env"
STSVEND_BIN = Path(
    os.environ.get("STSVEND_BIN")
    or Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target") / "debug" / "stsvend"
)


def client(service: str):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=ROOT_ACCESS_KEY_ID,
        aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
        aws_session_token=None,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"}),
    )


def doc(statements: list[dict]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def bucket_arns(prefix: str) -> tuple[str, str]:
    return f"arn:aws:s3:::{prefix}-*", f"arn:aws:s3:::{prefix}-*/*"


def service_user_policy(role_arn: str) -> str:
    bucket_arn, object_arn = bucket_arns(PREFIX)
    return doc([
        {
            "Sid": "ManagePrefixedBuckets",
            "Effect": "Allow",
            "Action": [
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
                "s3:GetBucketLocation",
                "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketPublicAccessBlock",
                "s3:PutEncryptionConfiguration",
                "s3:GetEncryptionConfiguration",
                "s3:PutBucketOwnershipControls",
                "s3:GetBucketOwnershipControls",
                "s3:PutBucketCORS",
                "s3:GetBucketCORS",
                "s3:PutBucketTagging",
                "s3:GetBucketTagging",
                "s3:PutBucketPolicy",
                "s3:GetBucketPolicy",
                "s3:DeleteBucketPolicy",
                "s3:GetBucketPolicyStatus",
                # Quotas: the buckets' object events go to the usage queue.
                "s3:PutBucketNotification",
                "s3:GetBucketNotification",
            ],
            "Resource": bucket_arn,
        },
        {
            # Quotas: the usage queues (`<prefix>-usage*`) the service consumes, and the ones
            # `bootstrap` and the tests create.
            "Sid": "QuotaUsageQueues",
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                # AWS authorizes DeleteMessageBatch as sqs:DeleteMessage; MiniStack asks for
                # the operation's own name.
                "sqs:DeleteMessageBatch",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:CreateQueue",
                "sqs:SetQueueAttributes",
            ],
            "Resource": f"arn:aws:sqs:*:*:{PREFIX}-*",
        },
        {
            # Emptying a bucket before DeleteBucket.
            "Sid": "CleanUpPrefixedObjects",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": object_arn,
        },
        {
            # ListBuckets has no resource-level scoping on AWS.
            "Sid": "ListAllBuckets",
            "Effect": "Allow",
            "Action": "s3:ListAllMyBuckets",
            "Resource": "*",
        },
        {
            "Sid": "VendThroughRole",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            "Resource": role_arn,
        },
        {
            # `stsvend doctor` checks that the role's permissions pin the account.
            "Sid": "DoctorReadsRolePolicy",
            "Effect": "Allow",
            "Action": "iam:GetRolePolicy",
            "Resource": role_arn,
        },
    ])


def wait_healthy() -> None:
    try:
        with urllib.request.urlopen(f"{ENDPOINT}/_ministack/health", timeout=5) as resp:
            health = json.loads(resp.read() or b"{}")
    except Exception as exc:  # noqa: BLE001
        sys.exit(f"seed: MiniStack not reachable at {ENDPOINT} ({exc}); run: bash scripts/ministack.sh start")
    if health.get("auth") != "enabled":
        print(f"seed: WARNING: MiniStack reports auth={health.get('auth')!r}; expected 'enabled' (AUTH=true)",
              file=sys.stderr)


def ensure_user(iam) -> str:
    try:
        user = iam.create_user(UserName=USER_NAME, Tags=[{"Key": "app", "Value": "stsvend"}])["User"]
        print(f"seed: created user {user['Arn']}")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        user = iam.get_user(UserName=USER_NAME)["User"]
        print(f"seed: user exists {user['Arn']}")
    return user["Arn"]


def bootstrap_role(account: str, user_arn: str) -> str:
    """The role, made by `stsvend bootstrap` with the admin (root) keys, trusting the user."""
    role_arn = f"arn:aws:iam::{account}:role/{ROLE_NAME}"
    # The admin's keys only: no session token or profile of the caller's may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ROOT_SECRET_ACCESS_KEY,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "STSVEND_AWS__ENDPOINT_URL": ENDPOINT,
        "STSVEND_AWS__ROLE_ARN": role_arn,
        "STSVEND_STORAGE__BUCKET_PREFIX": PREFIX,
    })
    cmd = [str(STSVEND_BIN), "bootstrap", "--config", str(REPO_ROOT / "config.toml"),
           "--principal-arn", user_arn]
    result = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        print(f"seed: bootstrap: {line}")
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        sys.exit(f"seed: stsvend bootstrap failed (exit {result.returncode})")
    return role_arn


def rotate_access_key(iam) -> dict:
    for key in iam.list_access_keys(UserName=USER_NAME)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=USER_NAME, AccessKeyId=key["AccessKeyId"])
        print(f"seed: deleted old access key {key['AccessKeyId']}")
    key = iam.create_access_key(UserName=USER_NAME)["AccessKey"]
    print(f"seed: created access key {key['AccessKeyId']}")
    return key


def write_credentials(key: dict, role_arn: str) -> None:
    CREDS_FILE.parent.mkdir(parents=True, exist_ok=True)
    content = (
        f"AWS_ACCESS_KEY_ID={key['AccessKeyId']}\n"
        f"AWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n"
        f"AWS_REGION={REGION}\n"
        f"STSVEND_AWS__ROLE_ARN={role_arn}\n"
        f"STSVEND_AWS__ENDPOINT_URL={ENDPOINT}\n"
    )
    tmp = CREDS_FILE.with_suffix(".env.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    os.chmod(tmp, 0o600)
    os.replace(tmp, CREDS_FILE)
    print(f"seed: wrote {CREDS_FILE} (0600)")


def require_binary() -> None:
    if not os.access(STSVEND_BIN, os.X_OK):
        sys.exit(f"seed: stsvend binary not found at {STSVEND_BIN}; build it first "
                 "(cargo build --bin stsvend) or set STSVEND_BIN")


def main() -> int:
    require_binary()
    wait_healthy()
    iam = client("iam")
    account = client("sts").get_caller_identity()["Account"]
    user_arn = ensure_user(iam)
    iam.put_user_policy(UserName=USER_NAME, PolicyName="stsvend-service",
                        PolicyDocument=service_user_policy(f"arn:aws:iam::{account}:role/{ROLE_NAME}"))
    role_arn = bootstrap_role(account, user_arn)
    key = rotate_access_key(iam)
    write_credentials(key, role_arn)
    print(f"role_arn={role_arn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
