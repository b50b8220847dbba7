"""The S3 client both boto3 scripts here use: boto3's own credential chain (which finds the
container provider: no AWS key variables are set), path-style addressing on S3_ENDPOINT, no
retries, and a record of the access key ids it signed with, in order."""

import os

import boto3
from botocore.config import Config


def s3_noting_keys():
    """An S3 client and the list it appends each new signing access key id to."""
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
    return s3, keys_seen
