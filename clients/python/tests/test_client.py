"""The client against a stub stsvend: what is sent, what is retried and how long it waits, what
errors say, and the boto3 Session's refreshing credentials."""

from __future__ import annotations

import json
import time

import pytest
from stub import JWT, error, vend

import stsvend


def test_a_vend_sends_the_bearer_token_and_gives_keys_and_storage(stub):
    s = stub([vend("ASIAONE", 3600)])
    client = stsvend.Client(s.url + "/", token=f"Bearer {JWT}", access="read-only")
    v = client.vend()
    assert (v.access_key_id, v.secret_access_key, v.session_token) == ("ASIAONE", "secret-of-ASIAONE", "session-of-ASIAONE")
    assert 3590 < (v.expires_at.timestamp() - time.time()) <= 3600
    assert s.seen == [{"path": "/v1/credentials", "authorization": f"Bearer {JWT}", "body": '{"access": "read-only"}'}]
    st = client.storage()
    assert st == stsvend.Storage(
        bucket="stsvend-stub", prefix="users/u1/", region="eu-west-1", access="read-write", endpoint="http://127.0.0.1:4566"
    )
    assert (st.place(), st.key("a.txt")) == ("s3://stsvend-stub/users/u1/", "users/u1/a.txt")
    assert len(s.seen) == 1, "storage() reads the last vend"
    assert "secret-of" not in repr(v) and "session-of" not in repr(v)


def test_the_organisation_fields_are_read_when_sent(stub):
    s = stub([vend("ASIAA", 3600, OrgBucket="stsvend-team", OrgPrefix="orgs/o1/", Later=1)])
    st = stsvend.storage(s.url, token=JWT)
    assert (st.org_bucket, st.org_prefix) == ("stsvend-team", "orgs/o1/")


def test_a_token_file_is_read_again_and_a_token_function_asked_again_for_each_vend(stub, tmp_path):
    s = stub([vend("ASIAA", 3600), vend("ASIAB", 3600), vend("ASIAC", 3600), vend("ASIAD", 3600)])
    file = tmp_path / "token"
    file.write_text("Bearer first.jwt.sig\n")
    from_file = stsvend.Client(s.url, token=file)
    from_file.vend()
    file.write_text("second.jwt.sig")
    from_file.vend()
    n = iter(range(1, 10))
    from_fn = stsvend.Client(s.url, token=lambda: f"jwt-{next(n)}")
    from_fn.vend()
    from_fn.vend()
    assert [r["authorization"] for r in s.seen] == [
        "Bearer first.jwt.sig", "Bearer second.jwt.sig", "Bearer jwt-1", "Bearer jwt-2",
    ]


def test_a_missing_token_file_stops_before_any_request(stub, tmp_path):
    s = stub([vend("ASIAA", 3600)])
    with pytest.raises(stsvend.StsvendError) as e:
        stsvend.Client(s.url, token=tmp_path / "nothing-here").vend()
    assert e.value.code == "no_token" and str(tmp_path / "nothing-here") in str(e.value)
    assert not e.value.retryable
    assert s.seen == []


def test_429_is_retried_once_retry_after_has_passed(stub):
    s = stub([error(429, "rate_limited", 1), vend("ASIAOK", 3600)])
    started = time.monotonic()
    assert stsvend.Client(s.url, token=JWT).vend().access_key_id == "ASIAOK"
    assert time.monotonic() - started >= 1.0
    assert len(s.seen) == 2


def test_503_and_502_are_retried_with_backoff_then_raised_with_the_last_code(stub):
    s = stub([error(503, "service_unavailable"), error(502, "bad_gateway"), error(503, "jwks_unavailable", 0)])
    with pytest.raises(stsvend.Unavailable) as e:
        stsvend.Client(s.url, token=JWT).vend()
    assert (e.value.status, e.value.code, e.value.retry_after) == (503, "jwks_unavailable", 0)
    assert str(e.value) == "stsvend: 503 jwks_unavailable: stub says jwks_unavailable (retry after 0 s)"
    assert len(s.seen) == 3, "three attempts in all"


@pytest.mark.parametrize(
    "status, code, cls",
    [(401, "token_expired", stsvend.TokenRejected), (403, "user_disabled", stsvend.Forbidden), (400, "unknown_access", stsvend.StsvendError)],
)
def test_401_403_and_400_are_never_retried_and_never_show_the_token(stub, status, code, cls):
    s = stub([error(status, code, 1), vend("ASIANEVER", 3600)])
    started = time.monotonic()
    with pytest.raises(cls) as e:
        stsvend.Client(s.url, token=JWT).vend()
    assert (e.value.status, e.value.code, e.value.retryable) == (status, code, False)
    assert len(s.seen) == 1
    assert time.monotonic() - started < 1.0
    assert JWT not in f"{e.value} {e.value!r}"


def test_a_retry_after_beyond_the_limit_is_raised_at_once_with_its_wait(stub):
    s = stub([error(503, "bucket_quota_exhausted", 300)])
    started = time.monotonic()
    with pytest.raises(stsvend.Unavailable) as e:
        stsvend.Client(s.url, token=JWT).vend()
    assert e.value.retry_after == 300
    assert time.monotonic() - started < 1.0
    assert len(s.seen) == 1


def test_no_answer_is_retried_then_raised_as_network_error(stub):
    s = stub([])
    url = s.url
    s.close()
    with pytest.raises(stsvend.Unavailable) as e:
        stsvend.Client(url, token=JWT, max_attempts=2).vend()
    assert (e.value.status, e.value.code) == (0, "network_error")


def test_presign_and_presign_post_ask_in_stsvends_field_names(stub):
    at = "2026-11-30T07:04:30Z"
    s = stub([
        {"status": 200, "body": {"url": "http://127.0.0.1:4566/b/users/u1/a.txt?X-Amz-Signature=x", "method": "PUT", "expires_at": at, "headers": {}}},
        {"status": 200, "body": {"url": "http://127.0.0.1:4566/b/", "fields": {"key": "users/u1/in/${filename}"}, "expires_at": at}},
    ])
    client = stsvend.Client(s.url, token=JWT, access="read-write")
    put = client.presign("PUT", "a.txt", expires_in=300)
    assert (put.method, put.expires_at.isoformat(), put.headers) == ("PUT", "2026-11-30T07:04:30+00:00", {})
    form = client.presign_post(key_prefix="in/", max_bytes=1024, content_type="image/png")
    assert form.fields == {"key": "users/u1/in/${filename}"}
    assert [(r["path"], json.loads(r["body"])) for r in s.seen] == [
        ("/v1/presign", {"method": "PUT", "key": "a.txt", "expires_in": 300, "access": "read-write"}),
        ("/v1/presign/post", {"key_prefix": "in/", "max_bytes": 1024, "content_type": "image/png", "access": "read-write"}),
    ]


def test_the_boto3_session_holds_only_stsvends_keys_and_refreshes_them(stub, monkeypatch):
    # Keys expiring within botocore's mandatory refresh window: each read vends again.
    s = stub([vend("ASIAFIRST", 60), vend("ASIASECOND", 60), vend("ASIATHIRD", 3600)])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-these")
    session = stsvend.boto3_session(s.url, token=JWT)
    assert session.region_name == "eu-west-1"
    creds = session.get_credentials()
    assert creds.method == "stsvend"
    assert creds.get_frozen_credentials().access_key == "ASIASECOND"
    assert creds.get_frozen_credentials().access_key == "ASIATHIRD"
    assert creds.get_frozen_credentials().access_key == "ASIATHIRD", "an hour left: no refresh"
    assert len(s.seen) == 3


def test_plain_http_is_refused_unless_the_host_is_loopback_or_it_is_allowed():
    for url in ("https://stsvend.example.com", "http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"):
        stsvend.Client(url, token=JWT)
    for url in ("http://stsvend.example.com", "http://10.0.0.5:8080", "ftp://x", "not a url"):
        with pytest.raises(stsvend.StsvendError) as e:
            stsvend.Client(url, token=JWT)
        assert e.value.code == "invalid_url", url
    stsvend.Client("http://stsvend:8080", token=JWT, allow_insecure_http=True)
