//! `stsvend doctor`: all ok on the seeded stack; a FAIL line naming the check otherwise.

use crate::support::ops::*;
use crate::support::{TestIssuer, required_env};

/// `stsvend doctor` with the suite's service keys, a fresh database and `env` on top.
async fn doctor(issuer: &str, env: &[(&str, String)]) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![
        ("STSVEND_AUTH__ISSUER", issuer.to_owned()),
        ("STSVEND_DATABASE__PATH", dir.path().join("s.db").display().to_string()),
    ];
    all.extend(env.iter().cloned());
    (stsvend(&["doctor"], &all).await, dir)
}

fn fail_line<'a>(run: &'a Run, check: &str) -> Option<&'a str> {
    run.stdout.lines().find(|l| l.starts_with(&format!("FAIL {check}:")))
}

#[tokio::test]
async fn doctor_passes_on_the_seeded_stack() {
    let issuer = TestIssuer::start();
    let (run, _db) = doctor(&issuer.issuer, &[]).await;
    assert_eq!(run.code, 0, "{run}");
    let lines = run.lines();
    for check in [
        "config",
        "templates",
        "database",
        "jwks",
        "identity",
        "role-chaining",
        "assume-role",
        "session-duration",
        "account-pin",
        "bucket-quota",
        "mappings",
        "first-login",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("ok   {check}: "))),
            "no ok line for {check}:\n{run}"
        );
    }
    assert!(lines.iter().all(|l| l.starts_with("ok ")), "{run}");
    // It measured how long a revocation takes to apply in this account.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ok   first-login:") && l.contains("a revocation took effect in")),
        "{run}"
    );
    assert!(run.stdout.contains(SERVICE_USER_ARN), "{run}");
}

#[tokio::test]
async fn doctor_fails_naming_assume_role_when_the_role_is_wrong() {
    let issuer = TestIssuer::start();
    let (_, wrong) = fresh_role();
    let (run, _db) = doctor(&issuer.issuer, &[("STSVEND_AWS__ROLE_ARN", wrong.clone())]).await;
    assert_ne!(run.code, 0, "{run}");
    let line = fail_line(&run, "assume-role").unwrap_or_else(|| panic!("{run}"));
    assert!(line.contains("AccessDenied"), "{line}");
    assert!(
        fail_line(&run, "jwks").is_none() && fail_line(&run, "identity").is_none(),
        "{run}"
    );
}

#[tokio::test]
async fn doctor_fails_naming_jwks_when_the_issuer_is_unreachable() {
    // A port that was free a moment ago: nothing answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (run, _db) = doctor(&format!("http://127.0.0.1:{port}/"), &[]).await;
    assert_ne!(run.code, 0, "{run}");
    let line = fail_line(&run, "jwks").unwrap_or_else(|| panic!("{run}"));
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(
        run.stdout.contains("ok   assume-role:"),
        "other checks still run:\n{run}"
    );
}

#[tokio::test]
async fn doctor_fails_naming_the_database_when_its_path_is_unwritable() {
    let issuer = TestIssuer::start();
    // A directory that is a regular file: nothing can be created below it (root included).
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let path = blocker.join("stsvend.db");
    let (run, _db) = doctor(
        &issuer.issuer,
        &[("STSVEND_DATABASE__PATH", path.display().to_string())],
    )
    .await;
    assert_ne!(run.code, 0, "{run}");
    let line = fail_line(&run, "database").unwrap_or_else(|| panic!("{run}"));
    assert!(line.contains("not-a-dir"), "{line}");
}

#[tokio::test]
async fn doctor_warns_when_role_credentials_meet_a_duration_over_an_hour() {
    let issuer = TestIssuer::start();
    let service = service_credentials();
    // The service running on role credentials, as on an instance or task role.
    let session = assume(service, &required_env("STSVEND_AWS__ROLE_ARN"), "stsvend-user")
        .await
        .unwrap();
    let (run, _db) = doctor(
        &issuer.issuer,
        &[
            ("AWS_ACCESS_KEY_ID", session.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", session.secret_access_key.clone()),
            ("AWS_SESSION_TOKEN", session.session_token.clone()),
            ("STSVEND_AWS__SESSION_DURATION_SECONDS", "7200".to_owned()),
        ],
    )
    .await;
    let warn = run
        .stdout
        .lines()
        .find(|l| l.starts_with("warn role-chaining:"))
        .unwrap_or_else(|| panic!("{run}"));
    assert!(warn.contains("7200") && warn.contains("3600"), "{warn}");
    assert!(run.stdout.contains(":assumed-role/"), "{run}");
}

/// A role whose permission policy grants the user buckets without pinning the account (as
/// roles made before this check were): doctor fails naming the statement, since its sessions
/// could reach buckets of the same names in other accounts.
#[tokio::test]
async fn doctor_fails_naming_the_account_pin_when_the_role_policy_lacks_it() {
    let issuer = TestIssuer::start();
    let (_name, arn) = crate::support::ops::role_without_account_pin().await;

    // The service user may read only its own role's policy: run as the account's root.
    let (run, _db) = doctor(
        &issuer.issuer,
        &[
            ("STSVEND_AWS__ROLE_ARN", arn),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ],
    )
    .await;
    assert_ne!(run.code, 0, "{run}");
    let line = fail_line(&run, "account-pin").unwrap_or_else(|| panic!("{run}"));
    assert!(
        line.contains("UserBucketsOnly") && line.contains("s3:ResourceAccount = 000000000000"),
        "{line}"
    );
}

/// The account's buckets against `storage.bucket_quota`: at the quota, every first login
/// would answer 503, so doctor fails naming it.
#[tokio::test]
async fn doctor_fails_naming_the_bucket_quota_when_it_is_used_up() {
    let issuer = TestIssuer::start();
    // At least one bucket, whatever else ran before.
    let bucket = stsvend::identity::BucketName::fresh("stsvend").unwrap();
    crate::support::service_s3()
        .create_bucket()
        .bucket(bucket.as_str())
        .send()
        .await
        .unwrap();
    let (run, _db) = doctor(&issuer.issuer, &[("STSVEND_STORAGE__BUCKET_QUOTA", "1".to_owned())]).await;
    assert_ne!(run.code, 0, "{run}");
    let line = fail_line(&run, "bucket-quota").unwrap_or_else(|| panic!("{run}"));
    assert!(
        line.contains("of its quota of 1") && line.contains("bucket_quota_exhausted"),
        "{line}"
    );
}

/// A service principal whose policy lacks one permission a first login needs (here
/// `s3:PutBucketCORS`) passes the old checks and then fails every first login: doctor's probe
/// bucket fails naming the call, and is deleted again.
#[tokio::test]
async fn doctor_fails_naming_the_first_login_step_the_service_policy_lacks() {
    use stsvend::ops::documents;
    let issuer = TestIssuer::start();
    let mut policy = documents::service_principal_policy(
        "aws",
        "stsvend",
        &required_env("STSVEND_AWS__ROLE_ARN"),
        &stsvend::identity::AccountId::parse(ACCOUNT).unwrap(),
    );
    for st in policy["Statement"].as_array_mut().unwrap() {
        if let Some(actions) = st["Action"].as_array_mut() {
            actions.retain(|a| a != "s3:PutBucketCORS");
        }
    }
    let (_, key) = user_with_policy("stsvend-doctor", &policy).await;

    let (run, _db) = doctor(
        &issuer.issuer,
        &[
            ("AWS_ACCESS_KEY_ID", key.access_key_id().to_owned()),
            ("AWS_SECRET_ACCESS_KEY", key.secret_access_key().to_owned()),
        ],
    )
    .await;
    assert_ne!(run.code, 0, "{run}");
    let line = fail_line(&run, "first-login").unwrap_or_else(|| panic!("{run}"));
    assert!(
        line.contains("PutBucketCors") && line.contains("AccessDenied"),
        "{line}"
    );
    let probe = line
        .split("probe bucket ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no probe bucket named in {line}"));
    assert!(
        crate::support::buckets_named(probe).await.is_empty(),
        "the probe bucket {probe} was left behind"
    );
}

/// Prefix mode: `bootstrap` creates the shared bucket and locks it down, and `doctor` checks it;
/// a shared bucket that does not exist fails `shared-bucket`.
#[tokio::test]
async fn bootstrap_locks_down_the_shared_bucket_and_doctor_checks_it() {
    let issuer = TestIssuer::start();
    let shared = format!("stsvend-shared-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let prefix_mode = |bucket: &str| {
        vec![
            ("STSVEND_STORAGE__MODE", "prefix".to_owned()),
            ("STSVEND_STORAGE__SHARED_BUCKET", bucket.to_owned()),
        ]
    };
    let (run, _db) = doctor(&issuer.issuer, &prefix_mode(&shared)).await;
    let line = fail_line(&run, "shared-bucket").unwrap_or_else(|| panic!("{run}"));
    assert!(line.contains(&shared) && line.contains("stsvend bootstrap"), "{line}");

    let run = super::bootstrap::bootstrap(&fresh_role().1, SERVICE_USER_ARN, &[], &prefix_mode(&shared)).await;
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains(&format!("shared bucket {shared}")), "{run}");
    let s3 = crate::support::service_s3();
    let block = s3.get_public_access_block().bucket(&shared).send().await.unwrap();
    let c = block.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    assert!(s3.get_bucket_encryption().bucket(&shared).send().await.is_ok());
    assert!(s3.get_bucket_cors().bucket(&shared).send().await.is_ok());

    let (run, _db) = doctor(&issuer.issuer, &prefix_mode(&shared)).await;
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.lines()
            .iter()
            .any(|l| l.starts_with("ok   shared-bucket: ") && l.contains("bucket policy")),
        "{run}"
    );
}

/// A user whose bucket was deleted behind the service's back (by hand, or by an AWS stand-in
/// restarted empty under a kept database) still gets keys that S3 answers `NoSuchBucket`:
/// doctor warns, naming that user and bucket and no other.
#[tokio::test]
async fn doctor_names_users_whose_bucket_no_longer_exists() {
    let app = crate::support::TestApp::spawn().await;
    let (gone_sub, kept_sub) = (
        crate::support::unique_sub("doctor-gone"),
        crate::support::unique_sub("doctor-kept"),
    );
    let gone = app.vend(&gone_sub, None).await;
    let kept = app.vend(&kept_sub, None).await;
    let s3 = crate::support::service_s3();
    s3.delete_bucket().bucket(&gone.bucket).send().await.unwrap();
    let listed = crate::support::user_s3(&gone)
        .list_objects_v2()
        .bucket(&gone.bucket)
        .send()
        .await;
    assert_eq!(crate::support::s3_code(&listed), "NoSuchBucket");

    let db = app.config.database.path.display().to_string();
    let (run, _db) = doctor(&app.issuer.issuer, &[("STSVEND_DATABASE__PATH", db)]).await;
    assert_eq!(run.code, 0, "a warning, not a failure:\n{run}");
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("warn mappings:"))
        .unwrap_or_else(|| panic!("{run}"));
    assert!(
        line.contains("1 of 2 users") && line.contains(&gone_sub) && line.contains(&gone.bucket),
        "{line}"
    );
    assert!(!line.contains(&kept_sub) && !line.contains(&kept.bucket), "{line}");
}
