//! Stored mappings are checked against the configuration before anything is vended from them
//! (issue 22): a row changed in the database behind stsvend's back (the shared bucket as a
//! user's own, a bucket outside `storage.bucket_name_prefix`, a prefix outside the user's own under
//! `storage.prefix_root`, another user's row moved to this user) answers 500 `internal`, hands
//! out no keys and is counted, instead of widening a session policy.

use std::path::PathBuf;

use serde_json::Value;
use stsvend::identity::{BucketName, UserId, UserPrefix};
use stsvend::store::NewUser;

use crate::support::sample;
use crate::support::*;

/// The database a test app runs on, for changing its rows the way an intruder would.
enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Db {
    /// Runs `sql`, which must change exactly one row.
    async fn tamper(&self, sql: &str) {
        let changed = match self {
            Db::Sqlite(path) => rusqlite::Connection::open(path).unwrap().execute(sql, []).unwrap() as u64,
            Db::Postgres(url) => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
                let driver = tokio::spawn(connection);
                let n = client.execute(sql, &[]).await.unwrap();
                drop(client);
                let _ = driver.await;
                n
            }
        };
        assert_eq!(changed, 1, "{sql}");
    }
}

/// A ready bucket-mode row for `sub`, with a bucket name as stsvend draws them.
async fn bucket_user(app: &TestApp, sub: &str) -> UserId {
    let bucket = BucketName::fresh(&app.config.storage.bucket_name_prefix).unwrap();
    let id = app.pending_user(sub, &bucket).await;
    app.state.store.mark_ready(&id).await.unwrap();
    id
}

/// A prefix-mode row for `sub` on `shared`, as a first login in prefix mode writes it.
async fn prefix_user(app: &TestApp, sub: &str, shared: &str) -> UserId {
    let id = UserId::derive(&app.issuer.issuer, sub);
    let prefix = UserPrefix::for_user(&app.config.storage.prefix_root, &id).unwrap();
    app.state
        .store
        .insert_user(&NewUser {
            user_id: &id,
            issuer: &app.issuer.issuer,
            subject: sub,
            bucket: &BucketName::parse(shared).unwrap(),
            region: "us-east-1",
            prefix: Some(&prefix),
        })
        .await
        .unwrap();
    id
}

fn rejected(metrics: &str, reason: &str) -> f64 {
    sample(
        metrics,
        &format!(r#"stsvend_mapping_rejected_total{{reason="{reason}"}}"#),
    )
    .unwrap_or(0.0)
}

async fn tampered_mappings_are_refused(database_url: Option<String>) {
    let opts = match &database_url {
        Some(url) => Options::default().set("STSVEND_DATABASE__URL", url),
        None => Options::default(),
    };
    let (app, shared) = TestApp::spawn_prefix(opts).await;
    let db = match database_url {
        Some(url) => Db::Postgres(url),
        None => Db::Sqlite(app.db_dir.path().join("stsvend.db")),
    };
    let root = app.config.storage.prefix_root.clone();

    // Untampered rows of both modes are vended: the checks refuse only what is wrong.
    let fine = unique_sub("mapping-fine-bucket");
    bucket_user(&app, &fine).await;
    app.vend(&fine, None).await;
    let fine = unique_sub("mapping-fine-prefix");
    prefix_user(&app, &fine, &shared).await;
    app.vend(&fine, None).await;

    // (user, the change made to their row, the reason counted).
    let mut cases = Vec::new();
    let sub = unique_sub("mapping-shared-as-own");
    let id = bucket_user(&app, &sub).await;
    cases.push((
        sub,
        format!("UPDATE users SET bucket = '{shared}' WHERE user_id = '{id}'"),
        "shared_bucket",
    ));
    let sub = unique_sub("mapping-foreign-bucket");
    let id = bucket_user(&app, &sub).await;
    cases.push((
        sub,
        format!("UPDATE users SET bucket = 'payroll-archive-2024' WHERE user_id = '{id}'"),
        "bucket_prefix",
    ));
    let sub = unique_sub("mapping-prefix-outside-root");
    let id = prefix_user(&app, &sub, &shared).await;
    cases.push((
        sub,
        format!("UPDATE users SET prefix = 'elsewhere/{id}/' WHERE user_id = '{id}'"),
        "prefix",
    ));
    let sub = unique_sub("mapping-prefix-of-another");
    let id = prefix_user(&app, &sub, &shared).await;
    let other = UserId::derive(&app.issuer.issuer, &unique_sub("mapping-victim-prefix"));
    cases.push((
        sub,
        format!("UPDATE users SET prefix = '{root}/{other}/' WHERE user_id = '{id}'"),
        "prefix",
    ));
    let sub = unique_sub("mapping-prefix-on-own-bucket");
    let id = prefix_user(&app, &sub, &shared).await;
    let elsewhere = BucketName::fresh(&app.config.storage.bucket_name_prefix).unwrap();
    cases.push((
        sub,
        format!("UPDATE users SET bucket = '{elsewhere}' WHERE user_id = '{id}'"),
        "prefix_bucket",
    ));
    // Another user's row moved to the attacker's id: their bucket, their issuer and subject.
    let victim = unique_sub("mapping-victim");
    let victim_id = bucket_user(&app, &victim).await;
    let attacker = unique_sub("mapping-attacker");
    let attacker_id = UserId::derive(&app.issuer.issuer, &attacker);
    cases.push((
        attacker,
        format!("UPDATE users SET user_id = '{attacker_id}' WHERE user_id = '{victim_id}'"),
        "user_id",
    ));

    // Every case is tried before anything is asserted, so a failure names all that got through.
    let mut outcomes = Vec::new();
    for (sub, sql, reason) in &cases {
        db.tamper(sql).await;
        let before = rejected(&app.metrics_text().await, reason);
        let resp = app.post_credentials(Some(&app.issuer.token(sub)), None).await;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        let id = UserId::derive(&app.issuer.issuer, sub);
        let keys_handed_out = app.state.store.keys_of_user(&id).await.unwrap().len();
        let counted = rejected(&app.metrics_text().await, reason) - before;
        outcomes.push((
            *reason,
            status,
            body["error"]["code"].as_str().map(str::to_owned),
            keys_handed_out,
            counted,
        ));
    }
    let expected: Vec<_> = cases
        .iter()
        .map(|(_, _, reason)| (*reason, 500, Some("internal".to_owned()), 0, 1.0))
        .collect();
    assert_eq!(
        outcomes, expected,
        "each tampered mapping is refused (reason, status, code, keys handed out, counted)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_mappings_that_break_the_configuration_are_refused_on_sqlite() {
    tampered_mappings_are_refused(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_mappings_that_break_the_configuration_are_refused_on_postgres() {
    tampered_mappings_are_refused(Some(crate::support::pg::fresh_database().await)).await;
}
