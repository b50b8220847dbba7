//! `stsvend selftest` with `[orgs]` and the team templates granted: probe organisations made
//! through the team vend (org A with probes a and b, org B with probe c) and checked on
//! `MiniStack` in both storage modes (each team template's keys on the member's own storage and
//! the org's, nothing of org B's or of an org mate's own, org and member revocation), removed
//! at the end, on Ctrl-C and by `--cleanup`; a team template granting every bucket fails naming
//! `org-isolation`.

use std::time::Duration;

use super::{CHECKS, own_database_and_prefix, selftest};
use crate::support::process::POLICIES;
use crate::support::{buckets_named, fresh_shared_bucket, private_prefix, service_s3, test_config};

/// The org checks, each printing at least one line when `[orgs]` is on.
const ORG_CHECKS: [&str; 6] = [
    "org-provision",
    "org-vend",
    "org-seed",
    "org-access",
    "org-isolation",
    "org-revoke",
];

/// `[orgs]` on (Auth0's defaults) and the team templates granted, as README's example.
fn with_orgs(mut env: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    env.extend([
        ("STSVEND_ORGS__CLAIM", "org_id".to_owned()),
        (
            "STSVEND_POLICIES__GRANTS__TEAM-READ-WRITE",
            r#"["write:team-files"]"#.to_owned(),
        ),
        (
            "STSVEND_POLICIES__GRANTS__TEAM-READ",
            r#"["read:team-files", "write:team-files"]"#.to_owned(),
        ),
    ]);
    env
}

/// True when some line of `check` passed and starts with `start`.
fn passed_line(run: &super::Run, check: &str, start: &str) -> bool {
    run.lines_of(check).iter().any(|(ok, d)| *ok && d.starts_with(start))
}

#[tokio::test]
async fn selftest_with_orgs_passes_against_ministack_in_bucket_mode_and_leaves_nothing() {
    let db = tempfile::tempdir().unwrap();
    let prefix = private_prefix();
    let run = selftest(&[], &with_orgs(own_database_and_prefix(&db, &prefix))).await;
    assert_eq!(run.code, 0, "{run}");
    for check in CHECKS.iter().chain(&ORG_CHECKS) {
        assert!(run.passed(check), "{check} did not pass:\n{run}");
    }
    // The personal checks ran for the personal accesses only.
    assert!(!run.lines_of("vend").iter().any(|(_, d)| d.contains("team-")), "{run}");
    assert!(passed_line(&run, "org-provision", "probe org A (org o"), "{run}");
    assert!(
        passed_line(&run, "org-provision", "probe b, a member of org A, got its storage"),
        "{run}"
    );
    assert!(passed_line(&run, "org-provision", "probe org B (org o"), "{run}");
    // team-read reads the org's storage and cannot write it; team-read-write can.
    for (start, check) in [
        ("`team-read`: get on org A's storage allowed", "org-access"),
        ("`team-read`: list on org A's storage allowed", "org-access"),
        (
            "`team-read`: put on org A's storage denied (AccessDenied), as the template grants no s3:PutObject there",
            "org-access",
        ),
        ("`team-read`: put on own storage allowed", "org-access"),
        ("`team-read-write`: put on org A's storage allowed", "org-access"),
        (
            "`team-read-write`: multipart upload on org A's storage allowed",
            "org-access",
        ),
    ] {
        assert!(passed_line(&run, check, start), "no `{start}` in {run}");
    }
    for access in ["team-read-write", "team-read"] {
        for what in [
            "put on org B's storage denied",
            "get on org B's storage denied",
            "list of org B's storage denied",
            "delete on org B's storage denied",
            "multipart upload to org B's storage denied",
            "copy from org B's storage into its own denied",
            "get on org mate b's own storage denied",
            "put on org mate b's own storage denied",
            "copy from org mate b's own storage into its own denied",
        ] {
            let start = format!("`{access}` keys: {what}");
            assert!(passed_line(&run, "org-isolation", &start), "no `{start}` in {run}");
        }
    }
    for start in [
        "org A revoked: probe a's keys vended before denied on org A's storage",
        "probe a's keys vended before org A's revocation still work on its own storage",
        "keys vended after org A's revocation work on org A's storage",
        "probe b's org access revoked: its keys vended before denied on org A's storage",
        "probe b's keys vended before its org access was revoked still work on its own storage",
        "probe a's keys still work on org A's storage after probe b's org access was revoked",
        "keys vended to probe b after its org access was revoked work on org A's storage",
    ] {
        assert!(passed_line(&run, "org-revoke", start), "no `{start}` in {run}");
    }
    let cleanup = run.lines_of("cleanup");
    assert!(
        cleanup[0].1.contains("org A: bucket") && cleanup[0].1.contains("org B: bucket"),
        "{run}"
    );
    // Every bucket made (the probes' and the orgs') is gone.
    assert_eq!(buckets_named(&prefix).await, Vec::<String>::new(), "{run}");
}

#[tokio::test]
async fn selftest_with_orgs_passes_against_ministack_in_prefix_mode_with_json_output() {
    let probe = test_config("http://127.0.0.1:1/", std::path::Path::new("/nonexistent"), &[]);
    let shared = fresh_shared_bucket(&probe).await;
    let db = tempfile::tempdir().unwrap();
    let env = with_orgs(vec![
        ("STSVEND_DATABASE__PATH", db.path().join("s.db").display().to_string()),
        ("STSVEND_STORAGE__MODE", "prefix".to_owned()),
        ("STSVEND_STORAGE__SHARED_BUCKET", shared.clone()),
    ]);
    let run = selftest(&["--json"], &env).await;
    assert_eq!(run.code, 0, "{run}");
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run}"));
    assert_eq!(doc["ok"], true, "{run}");
    let checks = doc["checks"].as_array().unwrap();
    for check in CHECKS.iter().chain(&ORG_CHECKS) {
        assert!(
            checks.iter().any(|c| c["check"] == *check && c["ok"] == true),
            "no {check} in {run}"
        );
    }
    assert!(checks.iter().all(|c| c["seconds"].is_number()), "{run}");
    let isolation: Vec<&str> = checks
        .iter()
        .filter(|c| c["check"] == "org-isolation")
        .filter_map(|c| c["detail"].as_str())
        .collect();
    for what in [
        "list of org B's storage denied",
        "list of org A's stem without the slash (orgs/o",
        "put of org A's stem without the slash (orgs/o",
        "list of a prefix sharing org A's stem (orgs/o",
        "put under a prefix sharing org A's stem (orgs/o",
        "list of its stem without the slash",
        "list at the shared bucket's root denied",
        "get on org mate b's own storage denied",
    ] {
        for access in ["team-read-write", "team-read"] {
            assert!(
                isolation
                    .iter()
                    .any(|d| d.starts_with(&format!("`{access}` keys: ")) && d.contains(what)),
                "no `{what}` for {access} in {run}"
            );
        }
    }
    // The probes' and the orgs' prefixes are emptied; the shared bucket stays, and so does
    // nothing of the run in its policy (the users' and the orgs' revocations).
    let left = service_s3().list_objects_v2().bucket(&shared).send().await.unwrap();
    assert_eq!(left.key_count(), Some(0), "{run}");
    let policy = service_s3().get_bucket_policy().bucket(&shared).send().await;
    let text = policy.map(|p| p.policy.unwrap_or_default()).unwrap_or_default();
    assert!(
        !text.contains("StsvendRevoke") && !text.contains("StsvendOrg"),
        "{text}\n{run}"
    );
}

/// A team template whose org statement names every bucket (`arn:aws:s3:::*`): a member's keys
/// reach org B's storage and an org mate's own, and selftest fails naming `org-isolation`.
#[tokio::test]
async fn selftest_fails_naming_org_isolation_with_an_over_broad_team_template() {
    let policies = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(POLICIES).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, policies.path().join(path.file_name().unwrap())).unwrap();
    }
    let file = policies.path().join("team-read-write.json");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"arn:aws:s3:::{{org_bucket}}/*\""), "{text}");
    std::fs::write(
        &file,
        text.replace("\"arn:aws:s3:::{{org_bucket}}/*\"", "\"arn:aws:s3:::*\""),
    )
    .unwrap();

    let db = tempfile::tempdir().unwrap();
    let prefix = private_prefix();
    let mut env = with_orgs(own_database_and_prefix(&db, &prefix));
    env.push(("STSVEND_POLICIES__DIR", policies.path().display().to_string()));
    let run = selftest(&[], &env).await;
    assert_ne!(run.code, 0, "{run}");
    let failed = run.failed("org-isolation");
    for what in [
        "get on org B's storage ALLOWED",
        "put on org B's storage ALLOWED",
        "get on org mate b's own storage ALLOWED",
    ] {
        assert!(
            failed
                .iter()
                .any(|d| d.starts_with(&format!("`team-read-write` keys: {what}"))),
            "no `{what}` in {run}"
        );
    }
    assert!(failed.iter().all(|d| d.starts_with("`team-read-write` keys")), "{run}");
    for check in CHECKS.iter().chain(&ORG_CHECKS) {
        if *check != "org-isolation" {
            assert!(run.passed(check), "{check} did not pass:\n{run}");
        }
    }
    assert_eq!(buckets_named(&prefix).await, Vec::<String>::new(), "{run}");
}

/// A run started with `env`, read until its `org-seed` check passed (both orgs made and
/// written into).
async fn started_until_org_seed(env: &[(&str, String)]) -> (tokio::process::Child, super::Lines, String) {
    super::started_until("org-seed", env, Duration::from_mins(2)).await
}

/// Ctrl-C during the org checks: the run says so, fails, and still removes the probe orgs
/// with their storage and rows, and the probes.
#[tokio::test]
async fn selftest_removes_its_probe_orgs_when_interrupted() {
    let db = tempfile::tempdir().unwrap();
    let prefix = private_prefix();
    let env = with_orgs(own_database_and_prefix(&db, &prefix));
    let (child, lines, seen) = started_until_org_seed(&env).await;
    assert_eq!(buckets_named(&prefix).await.len(), 5, "{seen}");
    let run = super::interrupted(child, lines, seen).await;
    assert_eq!(run.code, 1, "{run}");
    assert!(!run.failed("interrupted").is_empty(), "{run}");
    assert!(run.passed("cleanup"), "{run}");
    let cleanup = run.lines_of("cleanup");
    assert!(
        cleanup[0].1.contains("org A: bucket") && cleanup[0].1.contains("org B: bucket"),
        "{run}"
    );
    assert_eq!(buckets_named(&prefix).await, Vec::<String>::new(), "{run}");
    // Nothing is left in the database either.
    let again = selftest(&["--cleanup"], &env).await;
    assert_eq!(
        again.lines_of("cleanup"),
        [(true, "no probe user or organisation to remove")],
        "{again}"
    );
}

/// A run killed after the orgs were made leaves them; `--cleanup` finds them by their issuer
/// and removes them with their storage, as it does the probe users.
#[tokio::test]
async fn selftest_cleanup_removes_the_probe_orgs_a_killed_run_left() {
    let db = tempfile::tempdir().unwrap();
    let prefix = private_prefix();
    let env = with_orgs(own_database_and_prefix(&db, &prefix));
    let (mut child, _lines, seen) = started_until_org_seed(&env).await;
    child.kill().await.unwrap();
    // Probes a, b and c, orgs A and B.
    let left = buckets_named(&prefix).await;
    assert_eq!(left.len(), 5, "{seen}");

    let run = selftest(&["--cleanup"], &env).await;
    assert_eq!(run.code, 0, "{run}");
    let cleanup = run.lines_of("cleanup");
    assert_eq!(cleanup.len(), 1, "{run}");
    for bucket in &left {
        assert!(cleanup[0].1.contains(bucket.as_str()), "{bucket} not named: {run}");
    }
    assert_eq!(buckets_named(&prefix).await, Vec::<String>::new(), "{run}");
    let again = selftest(&["--cleanup"], &env).await;
    assert_eq!(
        again.lines_of("cleanup"),
        [(true, "no probe user or organisation to remove")],
        "{again}"
    );
}
