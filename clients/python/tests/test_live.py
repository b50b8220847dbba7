"""The package against a running stsvend on MiniStack (see conftest.py): a boto3 Session on
stsvend's keys uploads 64 MiB in parts while its keys expire and are replaced, pre-signed URLs
and forms land in the user's own storage, read-only keys cannot write, and a bad token gets
stsvend's code. Every key is `storage.prefix + name`, so the same tests pass in both storage
modes (the driver runs them in each)."""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import stsvend

MIB = 1024 * 1024
PART = 8 * MIB


def s3_of(client: stsvend.Client):
    """The client's S3 client, one attempt per call, noting the key id of every request."""
    s3 = client.s3_client(config=Config(retries={"max_attempts": 1}))
    seen: list = []

    def note(request, **_):
        auth = request.headers.get("Authorization", b"")
        auth = auth.decode() if isinstance(auth, bytes) else auth
        akid = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else "unsigned"
        if not seen or seen[-1] != akid:
            seen.append(akid)

    s3.meta.events.register("before-send.s3.*", note)
    return s3, seen


class SlowReader:
    """A body that pauses after each part's worth of bytes, so the upload outlives its keys."""

    def __init__(self, body: bytes, pause: float):
        self.body, self.pos, self.next_pause, self.pause = body, 0, PART, pause

    def read(self, n=-1):
        if self.pos >= self.next_pause:
            self.next_pause += PART
            time.sleep(self.pause)
        end = len(self.body) if n is None or n < 0 else min(len(self.body), self.pos + n)
        chunk, self.pos = self.body[self.pos:end], end
        return chunk


def test_a_64_mib_multipart_upload_outlives_its_keys_and_arrives_whole(live):
    from boto3.s3.transfer import TransferConfig

    client = stsvend.Client(live.url, token=live.token_file)
    s3, keys_seen = s3_of(client)
    st = client.storage()
    key = st.key(f"big-{uuid.uuid4().hex[:8]}.bin")
    data = os.urandom(64 * MIB)
    first_expiry = client.vend().expires_at.timestamp()
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=1, use_threads=False)
    s3.upload_fileobj(SlowReader(data, pause=2.0), st.bucket, key, Config=config)
    finished = time.time()

    head = s3.head_object(Bucket=st.bucket, Key=key)
    got = s3.get_object(Bucket=st.bucket, Key=key)["Body"].read()
    assert head["ContentLength"] == 64 * MIB
    assert head["ETag"].strip('"').endswith("-8"), head["ETag"]
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert "unsigned" not in keys_seen
    assert len(set(keys_seen)) >= 2, f"the upload ran on one set of keys: {keys_seen}"
    assert finished > first_expiry, "the upload ended before its first keys expired"


def test_storage_is_the_users_own_place_and_the_session_works_there(live):
    client = stsvend.Client(live.url, token=live.token_file)
    st = client.storage()
    assert st.bucket.startswith("stsvend-")
    assert st.access == "read-write"
    if live.mode == "prefix":
        assert st.prefix.startswith("users/") and st.prefix.endswith("/"), st.prefix
    else:
        assert st.prefix == ""
    s3, _ = s3_of(client)
    assert s3.meta.region_name == st.region
    s3.put_object(Bucket=st.bucket, Key=st.key("storage/one.txt"), Body=b"one")
    listed = s3.list_objects_v2(Bucket=st.bucket, Prefix=st.key("storage/"))
    assert [o["Key"] for o in listed.get("Contents", [])] == [st.key("storage/one.txt")]
    # The whole bucket: the user's own in bucket mode; in a shared bucket, refused.
    try:
        s3.list_objects_v2(Bucket=st.bucket)
        whole = "ok"
    except ClientError as e:
        whole = e.response["Error"]["Code"]
    assert whole == ("AccessDenied" if live.mode == "prefix" else "ok")


def test_presigned_urls_put_and_get_an_object_in_the_users_storage(live):
    client = stsvend.Client(live.url, token=live.token_file)
    st = client.storage()
    body = f"presigned at {time.time()}".encode()
    put = client.presign("PUT", "presigned/hello.txt", expires_in=300)
    assert put.url.split("?")[0].endswith(f"/{st.bucket}/{st.key('presigned/hello.txt')}"), put.url
    req = urllib.request.Request(put.url, data=body, method="PUT", headers=put.headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
    got = stsvend.presign(live.url, live.token_file, "GET", "presigned/hello.txt", expires_in=300)
    assert 0 < got.expires_at.timestamp() - time.time() <= 300
    with urllib.request.urlopen(got.url, timeout=30) as resp:
        assert resp.read() == body


def test_a_presigned_form_uploads_under_its_key_prefix_and_refuses_a_larger_file(live):
    client = stsvend.Client(live.url, token=live.token_file)
    st = client.storage()
    form = client.presign_post(key_prefix="forms/", max_bytes=1024, expires_in=300)
    assert form.fields["key"] == st.key("forms/${filename}")

    def post(content: bytes) -> int:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in form.fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="note.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n".encode() + content + f"\r\n--{boundary}--\r\n".encode()
        )
        req = urllib.request.Request(
            form.url, data=b"".join(parts), method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code

    assert post(b"a small note") == 201
    s3, _ = s3_of(client)
    assert s3.get_object(Bucket=st.bucket, Key=st.key("forms/note.txt"))["Body"].read() == b"a small note"
    assert post(b"x" * 2048) == 400, "over max_bytes"


def test_read_only_keys_read_but_cannot_write(live):
    writer = stsvend.Client(live.url, token=live.token_file)
    st = writer.storage()
    s3w, _ = s3_of(writer)
    s3w.put_object(Bucket=st.bucket, Key=st.key("ro/kept.txt"), Body=b"kept")
    reader = stsvend.Client(live.url, token=live.token_file, access="read-only")
    assert reader.storage().access == "read-only"
    s3r, _ = s3_of(reader)
    assert s3r.get_object(Bucket=st.bucket, Key=st.key("ro/kept.txt"))["Body"].read() == b"kept"
    with pytest.raises(ClientError) as e:
        s3r.put_object(Bucket=st.bucket, Key=st.key("ro/new.txt"), Body=b"no")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_a_bad_token_is_refused_with_stsvends_code_at_once(live):
    started = time.monotonic()
    with pytest.raises(stsvend.TokenRejected) as e:
        stsvend.boto3_session(live.url, token="not.a.jwt")
    assert (e.value.status, e.value.code) == (401, "invalid_token")
    assert time.monotonic() - started < 2, "a 401 is not retried"
    with pytest.raises(stsvend.StsvendError) as e:
        stsvend.Client(live.url, token=live.token_file, access="no-such-template").vend()
    assert (e.value.status, e.value.code) == (400, "unknown_access")
