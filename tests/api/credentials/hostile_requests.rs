//! Hostile input, table-driven: every case gets its documented status and code, and nothing
//! changes in the store or in S3. A second table covers inputs that are odd but valid.

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};
use stsvend::identity::UserId;

use crate::support::figures::Figures;
use crate::support::*;

enum Auth {
    None,
    Bearer(String),
    Raw(Vec<u8>),
    Twice(String),
}

struct Case {
    name: &'static str,
    sub: String,
    auth: Auth,
    method: Method,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    extra_header: Option<(&'static str, String)>,
    status: u16,
    code: &'static str,
}

impl Case {
    fn token(name: &'static str, sub: String, token: String, status: u16, code: &'static str) -> Self {
        Self {
            name,
            sub,
            auth: Auth::Bearer(token),
            method: Method::POST,
            path: "/v1/credentials",
            content_type: None,
            body: None,
            extra_header: None,
            status,
            code,
        }
    }

    fn body(
        name: &'static str,
        sub: String,
        token: String,
        ct: Option<&'static str>,
        body: &[u8],
        status: u16,
        code: &'static str,
    ) -> Self {
        Self {
            content_type: ct,
            body: Some(body.to_vec()),
            ..Self::token(name, sub, token, status, code)
        }
    }

    async fn send(&self, app: &TestApp) -> reqwest::Response {
        let mut headers = HeaderMap::new();
        match &self.auth {
            Auth::None => {}
            Auth::Bearer(t) => {
                headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {t}")).unwrap());
            }
            Auth::Raw(bytes) => {
                headers.insert("authorization", HeaderValue::from_bytes(bytes).unwrap());
            }
            Auth::Twice(t) => {
                headers.append("authorization", HeaderValue::from_str(&format!("Bearer {t}")).unwrap());
                headers.append("authorization", HeaderValue::from_str(&format!("Bearer {t}")).unwrap());
            }
        }
        if let Some(ct) = self.content_type {
            headers.insert("content-type", HeaderValue::from_static(ct));
        }
        if let Some((k, v)) = &self.extra_header {
            headers.insert(HeaderName::from_static(k), HeaderValue::from_str(v).unwrap());
        }
        let mut req = app
            .http
            .request(self.method.clone(), format!("{}{}", app.base, self.path))
            .headers(headers);
        if let Some(b) = &self.body {
            req = req.body(b.clone());
        }
        req.send().await.unwrap()
    }
}

/// Claims serialized with a second `sub`, which a JSON parser must not silently pick from.
struct DuplicateSub(Value);

impl Serialize for DuplicateSub {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let obj = self.0.as_object().unwrap();
        let mut map = s.serialize_map(Some(obj.len() + 1))?;
        for (k, v) in obj {
            map.serialize_entry(k, v)?;
        }
        map.serialize_entry("sub", "auth0|someone-else")?;
        map.end()
    }
}

fn signed_with_header(header: &Value, claims: &Value) -> String {
    let h: jsonwebtoken::Header = serde_json::from_value(header.clone()).unwrap();
    jsonwebtoken::encode(&h, claims, &signing_key()).unwrap()
}

#[tokio::test]
async fn hostile_requests_are_refused_with_their_codes_and_change_nothing() {
    let prefix = private_prefix();
    let app = TestApp::spawn_with(Options::default().set("STSVEND_STORAGE__BUCKET_PREFIX", &prefix)).await;
    let attacker = TestIssuer::start();
    *attacker.state.keys.lock().unwrap() = vec![jwk_for(&other_key(), "attacker-kid")];
    let attacker_jwks = format!("{}.well-known/jwks.json", attacker.issuer);
    let iss = app.issuer.issuer.clone();
    let sub = |n: &str| unique_sub(n);
    let claims = |s: &str| app.issuer.claims(s);
    let patched = |s: &str, patch: Value| {
        let mut c = claims(s);
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let good = |s: &str| app.issuer.token(s);
    let rs = |extra: Value| {
        let mut h = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        h
    };
    let b64 = |s: &str| data_encoding::BASE64URL_NOPAD.encode(s.as_bytes());

    let mut cases = Vec::new();
    macro_rules! token_case {
        ($name:expr, $status:expr, $code:expr, |$s:ident| $token:expr) => {{
            let $s = sub($name);
            let t = $token;
            cases.push(Case::token($name, $s, t, $status, $code));
        }};
    }
    // Size and shape.
    token_case!("64 KiB token", 431, "headers_too_large", |s| format!(
        "{}.{}",
        good(&s),
        "A".repeat(64 * 1024)
    ));
    token_case!("20 KiB token", 401, "invalid_token", |s| format!(
        "{}{}",
        good(&s),
        "A".repeat(20 * 1024)
    ));
    token_case!("thousands of dots", 401, "invalid_token", |_s| ".".repeat(5000));
    token_case!("two segments", 401, "invalid_token", |s| good(&s)
        .rsplit_once('.')
        .unwrap()
        .0
        .to_owned());
    token_case!("four segments", 401, "invalid_token", |s| format!("{}.e30", good(&s)));
    token_case!("empty segments", 401, "invalid_token", |_s| "..".to_owned());
    token_case!("non-base64 header", 401, "invalid_token", |_s| "~~~~.e30.sig"
        .to_owned());
    token_case!("non-base64 payload", 401, "invalid_token", |s| {
        let t = good(&s);
        let parts: Vec<&str> = t.split('.').collect();
        format!("{}.~~~~.{}", parts[0], parts[2])
    });
    token_case!("non-base64 signature", 401, "invalid_token", |s| {
        let t = good(&s);
        format!("{}.~~~~", t.rsplit_once('.').unwrap().0)
    });
    token_case!("header is not JSON", 401, "invalid_token", |_s| format!(
        "{}.e30.c2ln",
        b64("hello")
    ));
    token_case!("header is a JSON array", 401, "invalid_token", |_s| format!(
        "{}.e30.c2ln",
        b64("[1,2]")
    ));
    // Key-location headers are ignored, never fetched.
    token_case!("jku to an attacker JWKS", 401, "unknown_key", |s| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some("attacker-kid".to_owned());
        h.jku = Some(attacker_jwks.clone());
        jsonwebtoken::encode(&h, &claims(&s), &other_key()).unwrap()
    });
    token_case!("x5u to an attacker", 401, "unknown_key", |s| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some("attacker-kid".to_owned());
        h.x5u = Some(attacker_jwks.clone());
        jsonwebtoken::encode(&h, &claims(&s), &other_key()).unwrap()
    });
    token_case!("embedded jwk of the signer", 401, "unknown_key", |s| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some("attacker-kid".to_owned());
        h.jwk = Some(jwk_for(&other_key(), "attacker-kid"));
        jsonwebtoken::encode(&h, &claims(&s), &other_key()).unwrap()
    });
    token_case!("embedded jwk under our kid", 401, "invalid_token", |s| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(KID.to_owned());
        h.jwk = Some(jwk_for(&other_key(), KID));
        jsonwebtoken::encode(&h, &claims(&s), &other_key()).unwrap()
    });
    // kid values.
    token_case!("kid with a path", 401, "unknown_key", |s| sign(
        &claims(&s),
        &signing_key(),
        "../../etc/passwd"
    ));
    token_case!("kid with a URL", 401, "unknown_key", |s| sign(
        &claims(&s),
        &signing_key(),
        &attacker_jwks
    ));
    token_case!("kid with a NUL", 401, "unknown_key", |s| sign(
        &claims(&s),
        &signing_key(),
        "a\u{0}b"
    ));
    token_case!("kid of 1000 characters", 401, "invalid_token", |s| sign(
        &claims(&s),
        &signing_key(),
        &"k".repeat(1000)
    ));
    token_case!("empty kid", 401, "invalid_token", |s| sign(
        &claims(&s),
        &signing_key(),
        ""
    ));
    // Claims.
    token_case!("duplicate sub claim", 401, "invalid_token", |s| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(KID.to_owned());
        jsonwebtoken::encode(&h, &DuplicateSub(claims(&s)), &signing_key()).unwrap()
    });
    token_case!("exp as a string", 401, "invalid_token", |s| sign(
        &patched(&s, json!({"exp": (now() + 600).to_string()})),
        &signing_key(),
        KID
    ));
    token_case!("exp of 1e30", 401, "invalid_token", |s| sign(
        &patched(&s, json!({"exp": 1e30})),
        &signing_key(),
        KID
    ));
    token_case!("exp in the year 2200", 401, "invalid_token", |s| sign(
        &patched(&s, json!({"exp": 7_258_118_400_u64})),
        &signing_key(),
        KID
    ));
    token_case!("negative exp", 401, "invalid_token", |s| sign(
        &patched(&s, json!({"exp": -1})),
        &signing_key(),
        KID
    ));
    token_case!("negative iat", 401, "invalid_token", |s| sign(
        &patched(&s, json!({"iat": -5})),
        &signing_key(),
        KID
    ));
    token_case!("iat a day ahead", 401, "invalid_token", |s| sign(
        &patched(&s, json!({"iat": now() + 86_400})),
        &signing_key(),
        KID
    ));
    token_case!("empty aud array", 401, "invalid_audience", |s| sign(
        &patched(&s, json!({"aud": []})),
        &signing_key(),
        KID
    ));
    token_case!("aud a number", 401, "invalid_token", |s| sign(
        &patched(&s, json!({"aud": 7})),
        &signing_key(),
        KID
    ));
    token_case!("iss differing only in case", 401, "invalid_issuer", |s| sign(
        &patched(&s, json!({"iss": iss.to_uppercase()})),
        &signing_key(),
        KID
    ));
    token_case!("iss with a doubled slash", 401, "invalid_issuer", |s| sign(
        &patched(&s, json!({"iss": format!("{iss}/")})),
        &signing_key(),
        KID
    ));
    token_case!("empty sub", 401, "invalid_token", |s| sign(
        &patched(&s, json!({"sub": ""})),
        &signing_key(),
        KID
    ));
    token_case!("sub of 2000 characters", 401, "invalid_token", |s| sign(
        &patched(&s, json!({"sub": "a".repeat(2000)})),
        &signing_key(),
        KID
    ));
    token_case!("sub a number", 401, "invalid_token", |s| sign(
        &patched(&s, json!({"sub": 42})),
        &signing_key(),
        KID
    ));
    token_case!("permissions not a list", 401, "invalid_token", |s| sign(
        &patched(&s, json!({"permissions": "write:files"})),
        &signing_key(),
        KID
    ));
    // Header fields.
    token_case!("typ JOSE+JSON", 401, "invalid_token", |s| signed_with_header(
        &rs(json!({"typ": "JOSE+JSON"})),
        &claims(&s)
    ));
    token_case!("crit header", 401, "invalid_token", |s| signed_with_header(
        &rs(json!({"crit": ["exp"]})),
        &claims(&s)
    ));
    token_case!("RS512 not allowed", 401, "invalid_token", |s| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS512);
        h.kid = Some(KID.to_owned());
        jsonwebtoken::encode(&h, &claims(&s), &signing_key()).unwrap()
    });
    token_case!("ES256 header, RSA signature", 401, "invalid_token", |s| {
        let t = good(&s);
        let rest = t.split_once('.').unwrap().1;
        format!(
            "{}.{rest}",
            b64(&json!({"alg": "ES256", "typ": "JWT", "kid": KID}).to_string())
        )
    });
    token_case!("alg None capitalised", 401, "invalid_token", |s| raw_jwt(
        &json!({"alg": "None", "kid": KID}),
        &claims(&s),
        ""
    ));
    token_case!("unknown alg", 401, "invalid_token", |s| raw_jwt(
        &json!({"alg": "XS999", "kid": KID}),
        &claims(&s),
        "c2ln"
    ));

    // The Authorization header itself.
    let plain = |name, auth, status, code| Case {
        auth,
        ..Case::token(name, sub(name), String::new(), status, code)
    };
    cases.push(plain(
        "Basic scheme",
        Auth::Raw(b"Basic dXNlcjpwYXNz".to_vec()),
        401,
        "invalid_token",
    ));
    cases.push(plain(
        "Bearer and a tab",
        Auth::Raw(format!("Bearer\t{}", good(&sub("tab"))).into_bytes()),
        401,
        "invalid_token",
    ));
    cases.push(plain(
        "empty Authorization",
        Auth::Raw(Vec::new()),
        401,
        "invalid_token",
    ));
    cases.push(plain(
        "non-ASCII header bytes",
        Auth::Raw(b"Bearer \xff\xfe".to_vec()),
        401,
        "invalid_token",
    ));
    cases.push(plain(
        "two Authorization headers",
        Auth::Twice(good(&sub("twice"))),
        401,
        "invalid_token",
    ));
    cases.push(plain("no Authorization at all", Auth::None, 401, "missing_token"));

    // Bodies, with a valid token.
    let body_case = |name, ct, body: &[u8], status, code| {
        let s = sub(name);
        let t = good(&s);
        Case::body(name, s, t, ct, body, status, code)
    };
    cases.push(body_case(
        "1 MiB body",
        Some("application/json"),
        &vec![b' '; 1 << 20],
        413,
        "payload_too_large",
    ));
    cases.push(body_case(
        "text/plain body",
        Some("text/plain"),
        br#"{"access":"read-only"}"#,
        415,
        "unsupported_media_type",
    ));
    cases.push(body_case(
        "form body",
        Some("application/x-www-form-urlencoded"),
        b"access=read-only",
        415,
        "unsupported_media_type",
    ));
    cases.push(body_case(
        "invalid JSON",
        Some("application/json"),
        b"{\"access\":",
        400,
        "invalid_body",
    ));
    cases.push(body_case(
        "JSON array",
        Some("application/json"),
        b"[]",
        400,
        "invalid_body",
    ));
    cases.push(body_case(
        "JSON null",
        Some("application/json"),
        b"null",
        400,
        "invalid_body",
    ));
    cases.push(body_case(
        "unknown template",
        Some("application/json"),
        br#"{"access":"admin"}"#,
        400,
        "unknown_access",
    ));
    cases.push(body_case(
        "template path traversal",
        Some("application/json"),
        br#"{"access":"../read-write"}"#,
        400,
        "unknown_access",
    ));
    cases.push(body_case(
        "empty template name",
        Some("application/json"),
        br#"{"access":""}"#,
        400,
        "unknown_access",
    ));
    cases.push(body_case(
        "unknown field",
        Some("application/json"),
        br#"{"access":"read-only","bucket":"x"}"#,
        400,
        "invalid_body",
    ));
    cases.push(body_case(
        "access a number",
        Some("application/json"),
        br#"{"access":1}"#,
        400,
        "invalid_body",
    ));
    cases.push(body_case(
        "duplicate field",
        Some("application/json"),
        br#"{"access":"read-only","access":"read-write"}"#,
        400,
        "invalid_body",
    ));
    cases.push(body_case(
        "deeply nested JSON",
        Some("application/json"),
        "[".repeat(3000).as_bytes(),
        400,
        "invalid_body",
    ));
    let mut padded = body_case("40 KiB of extra headers", None, b"", 431, "headers_too_large");
    padded.extra_header = Some(("x-padding", "p".repeat(40 * 1024)));
    cases.push(padded);
    let mut put = body_case("PUT instead of POST", None, b"", 405, "method_not_allowed");
    put.method = Method::PUT;
    cases.push(put);
    let mut slash = body_case("trailing slash path", None, b"", 404, "not_found");
    slash.path = "/v1/credentials/";
    cases.push(slash);

    let mut failures = Vec::new();
    for case in &cases {
        let resp = case.send(&app).await;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or("<no JSON envelope>");
        if (status, code) != (case.status, case.code) {
            failures.push(format!(
                "{}: got {status} {code}, want {} {}",
                case.name, case.status, case.code
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 40);

    assert_eq!(app.users_in_db().await, 0, "no case may create a user");
    assert_eq!(attacker.fetches(), 0, "jku/x5u/kid URLs must never be fetched");
    for case in &cases {
        let id = UserId::derive(&iss, &case.sub);
        assert!(
            app.state.store.user(&id).await.unwrap().is_none(),
            "{}: a mapping was recorded",
            case.name
        );
    }
    assert_eq!(
        buckets_named(&prefix).await,
        Vec::<String>::new(),
        "no case may create a bucket"
    );
    Figures {
        cases: cases.len() as u64,
        requests: app.requests_answered().await,
        ..Figures::default()
    }
    .record("hostile_requests");
}

#[tokio::test]
async fn odd_but_valid_authorization_headers_are_accepted() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("odd");
    let first = app.vend(&sub, None).await;
    let token = app.issuer.token(&sub);
    for header in [
        format!("bEaReR {token}"),
        format!("BEARER {token}"),
        format!("Bearer   {token}"),
    ] {
        let resp = app
            .http
            .post(format!("{}/v1/credentials", app.base))
            .header("authorization", header.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", &header[..12]);
        assert_eq!(resp.json::<Vended>().await.unwrap().bucket, first.bucket);
    }
    assert_eq!(app.users_in_db().await, 1);
}
