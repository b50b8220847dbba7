#!/usr/bin/env python3
"""Writes the committed seed corpora in fuzz/seeds/ (run again only to change them).

Tokens are signed with the fixture keys in fuzz/fixtures/ through the `openssl` command line,
with `exp` in 2100, so the valid ones stay valid. Policy seeds are the shipped templates, as
they are and behind the `iss \\0 sub \\0 prefix \\0 account \\0` header policy_render reads.
Needs only python3 and openssl.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
SEEDS = FUZZ / "seeds"

# Must match fuzz_targets/common/mod.rs.
ISSUER = "https://fuzz.example.auth0.com/"
AUDIENCE = "https://stsvend.fuzz/api"
EXP_2100 = 4102444800


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def openssl_sign(key: Path, message: bytes, *opts: str) -> bytes:
    return subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(key), *opts],
        input=message, capture_output=True, check=True,
    ).stdout


def der_to_raw_ecdsa(der: bytes) -> bytes:
    """ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) -> r || s, 32 bytes each (JWS form)."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2 : i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


def token(header: dict, claims: dict, signer: str | None) -> str:
    message = f"{segment(header)}.{segment(claims)}".encode()
    fixtures = FUZZ / "fixtures"
    if signer == "ec":
        sig = der_to_raw_ecdsa(openssl_sign(fixtures / "es256.pem", message))
    elif signer == "ec_other":
        sig = der_to_raw_ecdsa(openssl_sign(fixtures / "es256_other.pem", message))
    elif signer == "rs":
        sig = openssl_sign(fixtures / "rs256.pem", message)
    elif signer == "ps":
        sig = openssl_sign(fixtures / "rs256.pem", message,
                           "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32")
    elif signer == "hs_public":
        # HS256 keyed with bytes an attacker can read from the JWKS (key confusion).
        import hmac
        sig = hmac.new(b"public-key-bytes", message, hashlib.sha256).digest()
    else:
        sig = b""
    return f"{message.decode()}.{b64(sig)}"


def claims(**extra) -> dict:
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "auth0|alice", "exp": EXP_2100,
            "iat": 1_700_000_000, "scope": "openid write:files", "azp": "spa-client"}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def write(target: str, name: str, data: bytes) -> None:
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main() -> None:
    ec = {"alg": "ES256", "typ": "at+jwt", "kid": "fuzz-ec"}
    rs = {"alg": "RS256", "typ": "JWT", "kid": "fuzz-rsa"}
    tokens = {
        "valid-es256": token(ec, claims(), "ec"),
        "valid-rs256": token(rs, claims(sub="google-oauth2|1234", aud=[AUDIENCE, "x"]), "rs"),
        "valid-ps256": token({**rs, "alg": "PS256"}, claims(permissions=["read:files"]), "ps"),
        "expired": token(ec, claims(exp=1_000_000_000), "ec"),
        "wrong-key": token(ec, claims(), "ec_other"),
        "wrong-issuer": token(ec, claims(iss="https://evil.example/"), "ec"),
        "m2m": token(ec, claims(sub="abc@clients", gty="client-credentials"), "ec"),
        "alg-none": token({"alg": "none", "kid": "fuzz-ec"}, claims(), None),
        "hs256-confusion": token({"alg": "HS256", "kid": "fuzz-rsa"}, claims(), "hs_public"),
        "no-kid": token({"alg": "ES256"}, claims(), "ec"),
        "crit": token({**ec, "crit": ["exp"]}, claims(), "ec"),
        "jku": token({**ec, "kid": "elsewhere", "jku": "http://127.0.0.1:9/k"}, claims(), "ec"),
    }
    for name, t in tokens.items():
        # ECDSA and PSS signatures are randomised: keep a seed whose signed part is unchanged,
        # so regenerating does not rewrite every file.
        old = SEEDS / "token_verify" / name
        if old.exists() and old.read_text().rsplit(".", 1)[0] == t.rsplit(".", 1)[0]:
            continue
        write("token_verify", name, t.encode())
    write("token_verify", "two-dots", b"a.b.c")
    write("token_verify", "four-parts", b"eyJhbGciOiJFUzI1NiJ9.e30.e30.")

    header = "https://tenant.auth0.com/\0auth0|alice\0stsvend\0\0"
    for path in sorted((ROOT / "policies").glob("*.json")):
        text = path.read_text()
        write("policy_render", path.name, text.encode())
        write("policy_render", f"user-{path.name}", (header + text).encode())
    edge = {
        "placeholder-in-key": '{"Statement":[{"{{bucket}}":"x"}]}',
        "unknown-placeholder": '{"Statement":[{"Resource":"{{sub}}"}]}',
        "nested": '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*"],'
                  '"Resource":["arn:aws:s3:::{{bucket}}/{{user_id}}/*",{"a":[1,2.5,-0,1e300,null,true]}]}}',
        # serde_json's default float parsing is not correctly rounded: renders as ...0003e300.
        "float-drift": '{"Statement":{"Resource":["{{bucket}}",{"a":[5,2.533333e300]}]}}',
        "escapes": '{"Statement":[{"Sid":"\\u007b\\u007bbucket}}","R":"{{bucket}}\\"}"}]}',
    }
    for name, text in edge.items():
        write("policy_render", name, text.encode())
        write("policy_render", f"user-{name}", ("iss\0sub\0" + "p" * 34 + "\0z\0" + text).encode())


if __name__ == "__main__":
    main()
