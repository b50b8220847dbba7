//! Claims as session tags and placeholders: `[policies.claims]` declares token claims with a
//! pattern each, templates name them as `{{claims.NAME}}`, `[sts.session_tags]` sends them as
//! session tags. A value that fails its pattern answers 403 `claim_invalid` with nothing made;
//! two tokens of one user with different values never share a session.

mod hostile;
mod prefix;
mod startup;
mod tags;

use std::path::Path;

use serde_json::{Value, json};

use crate::support::auth0::{auth0_issuer, oauth_token};
use crate::support::*;

pub const TIER_CLAIM: &str = "https://example.com/tier";
pub const DEPARTMENT_CLAIM: &str = "https://example.com/department";

/// `tiered`: read and write only under `<tier>/` of the caller's own bucket.
pub const TIERED: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "OwnTierOnly",
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
    "Resource": "arn:aws:s3:::{{bucket}}/{{claims.tier}}/*",
    "Condition": {"StringEquals": {"s3:ResourceAccount": "{{account_id}}"}}
  }]
}"#;

/// `tiered` for users in prefix mode: the tier under the user's prefix of the shared bucket.
pub const PREFIX_TIERED: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "OwnTierOnly",
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
    "Resource": "arn:aws:s3:::{{bucket}}/{{prefix}}{{claims.tier}}/*",
    "Condition": {"StringEquals": {"s3:ResourceAccount": "{{account_id}}"}}
  }]
}"#;

/// The shipped templates and `tiered` (and its prefix-mode variant) in `dir`; `tier` (free or pro) and `department` declared,
/// `department` also sent as the session tag of that name; `tiered` granted to `write:files`.
pub fn with_claims(opts: Options, dir: &Path) -> Options {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("tiered.json"), TIERED).unwrap();
    std::fs::write(dir.join("prefix-tiered.json"), PREFIX_TIERED).unwrap();
    opts.set("STSVEND_POLICIES__DIR", &dir.display().to_string())
        .set("STSVEND_POLICIES__GRANTS__TIERED", r#"["write:files"]"#)
        .set("STSVEND_POLICIES__CLAIMS__TIER__CLAIM", TIER_CLAIM)
        .set("STSVEND_POLICIES__CLAIMS__TIER__PATTERN", "^(free|pro)$")
        .set("STSVEND_POLICIES__CLAIMS__DEPARTMENT__CLAIM", DEPARTMENT_CLAIM)
        .set("STSVEND_POLICIES__CLAIMS__DEPARTMENT__PATTERN", "[a-z]{1,32}")
        .set("STSVEND_STS__SESSION_TAGS__DEPARTMENT", DEPARTMENT_CLAIM)
}

/// A token for `sub` carrying `claims` (claim name -> JSON value) besides the usual ones.
pub fn token(app: &TestApp, sub: &str, claims: &[(&str, Value)]) -> String {
    let mut c = app.issuer.claims(sub);
    for (name, value) in claims {
        c[*name] = value.clone();
    }
    sign(&c, &signing_key(), KID)
}

/// `POST /v1/credentials` for `access` with `token`: the status and the body as JSON.
pub async fn vend_as(app: &TestApp, token: &str, access: &str) -> (u16, Value) {
    let resp = app.post_credentials(Some(token), Some(json!({"access": access}))).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// A 200 vend for `access` with `token`, parsed as clients parse it.
pub async fn vended(app: &TestApp, token: &str, access: &str) -> Vended {
    let (status, body) = vend_as(app, token, access).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// Whether `v`'s keys may put `key` in their own bucket (`ok`, or S3's error code).
pub async fn put(v: &Vended, key: &str) -> String {
    s3_code(
        &user_s3(v)
            .put_object()
            .bucket(&v.bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await,
    )
}

/// A template naming `{{claims.tier}}` reaches exactly the caller's tier of their bucket.
#[tokio::test]
async fn a_template_naming_a_claim_grants_exactly_what_the_claim_allows() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(with_claims(Options::default(), dir.path())).await;
    let t = token(&app, &unique_sub("tier-pro"), &[(TIER_CLAIM, json!("pro"))]);
    let pro = vended(&app, &t, "tiered").await;
    assert_eq!(put(&pro, "pro/report.txt").await, "ok");
    assert_eq!(put(&pro, "free/report.txt").await, "AccessDenied");
    assert_eq!(put(&pro, "report.txt").await, "AccessDenied");
    assert_eq!(put(&pro, "pro").await, "AccessDenied");
    // Personal templates do not need the claim.
    let plain = token(&app, &unique_sub("no-tier"), &[]);
    assert_eq!(vend_as(&app, &plain, "read-write").await.0, 200);
}

/// One user, two tokens with different tiers: the second vend gets a session of its own whose
/// policy follows the second tier, not the first token's cached one.
#[tokio::test]
async fn a_users_token_with_another_claim_value_never_gets_the_first_values_session() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(with_claims(Options::default(), dir.path())).await;
    let sub = unique_sub("tier-switch");
    let pro = vended(&app, &token(&app, &sub, &[(TIER_CLAIM, json!("pro"))]), "tiered").await;
    let free = vended(&app, &token(&app, &sub, &[(TIER_CLAIM, json!("free"))]), "tiered").await;
    assert_ne!(pro.access_key_id, free.access_key_id, "a new session for the new value");
    assert_eq!(put(&free, "free/a.txt").await, "ok");
    assert_eq!(put(&free, "pro/a.txt").await, "AccessDenied");
    // Back to pro: the pro session again (cached), still pro's.
    let again = vended(&app, &token(&app, &sub, &[(TIER_CLAIM, json!("pro"))]), "tiered").await;
    assert_eq!(again.access_key_id, pro.access_key_id);
    assert_eq!(put(&again, "free/b.txt").await, "AccessDenied");
}

/// Sessions are shared across restarts and replicas sealed in the database: a process that
/// did not make them opens the sealed session of the same tier, and never another tier's.
#[tokio::test]
async fn a_sealed_session_is_opened_only_for_the_claim_values_it_was_made_with() {
    let key: Vec<u8> = (0u8..32).collect();
    let sealed = |opts: Options| {
        opts.set(
            "STSVEND_CACHE__SEALING_KEYS",
            &format!("1:{}", data_encoding::BASE64.encode(&key)),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let before = TestApp::spawn_with(with_claims(sealed(Options::default()), dir.path())).await;
    let sub = unique_sub("tier-sealed");
    let pro = vended(&before, &token(&before, &sub, &[(TIER_CLAIM, json!("pro"))]), "tiered").await;
    let stopped = before.stop().await;

    let after = TestApp::spawn_with(with_claims(
        sealed(Options {
            issuer: Some(stopped.issuer),
            db_dir: Some(stopped.db_dir),
            ..Options::default()
        }),
        dir.path(),
    ))
    .await;
    let free = vended(&after, &token(&after, &sub, &[(TIER_CLAIM, json!("free"))]), "tiered").await;
    assert_ne!(
        free.access_key_id, pro.access_key_id,
        "pro's sealed session opened for free"
    );
    assert_eq!(put(&free, "pro/x.txt").await, "AccessDenied");
    let pro_again = vended(&after, &token(&after, &sub, &[(TIER_CLAIM, json!("pro"))]), "tiered").await;
    assert_eq!(
        pro_again.access_key_id, pro.access_key_id,
        "pro's sealed session is shared"
    );
}

/// The Auth0 stand-in issues custom claims (`test_claims`, as an Auth0 Action adds them): a
/// token from it vends the template naming one, scoped by its value.
#[tokio::test]
async fn a_claim_from_the_auth0_stand_in_scopes_the_template_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(with_claims(
        Options::default().set("STSVEND_AUTH__ISSUER", &auth0_issuer()),
        dir.path(),
    ))
    .await;
    let sub = unique_sub("auth0-tier");
    let claims = json!({TIER_CLAIM: "free"}).to_string();
    let t = oauth_token(&[
        ("grant_type", "client_credentials"),
        ("client_id", "stsvend-test"),
        ("client_secret", "test-secret"),
        ("audience", AUDIENCE),
        ("scope", "openid read:files write:files"),
        ("test_sub", &sub),
        ("test_claims", &claims),
    ])
    .await;
    let free = vended(&app, &t, "tiered").await;
    assert_eq!(put(&free, "free/a.txt").await, "ok");
    assert_eq!(put(&free, "pro/a.txt").await, "AccessDenied");
}
