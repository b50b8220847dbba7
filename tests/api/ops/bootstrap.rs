//! `stsvend bootstrap`: creates, leaves alone, repairs only what differs, and the role it
//! makes works for its principal and nothing beyond the prefix.

use aws_sdk_iam::config::Credentials;
use aws_sdk_iam::operation::get_role::GetRoleError;
use serde_json::{Value, json};

use crate::support::ops::*;
use crate::support::{required_env, s3_code};

/// `stsvend bootstrap` with root keys for the role `role_arn`, trusting `principal`.
pub(super) async fn bootstrap(role_arn: &str, principal: &str, extra: &[&str], env: &[(&str, String)]) -> Run {
    let mut args = vec!["bootstrap", "--principal-arn", principal];
    args.extend_from_slice(extra);
    let mut all = vec![
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("STSVEND_AWS__ROLE_ARN", role_arn.to_owned()),
    ];
    all.extend(env.iter().cloned());
    stsvend(&args, &all).await
}

struct RoleState {
    max_session: i32,
    trust: Value,
    permissions: Value,
}

fn decode(doc: &str) -> Value {
    stsvend::ops::documents::parse_returned(doc).unwrap_or_else(|| panic!("not a policy document: {doc}"))
}

async fn role_state(name: &str) -> Option<RoleState> {
    let iam = root_iam();
    let role = match iam.get_role().role_name(name).send().await {
        Ok(out) => out.role.unwrap(),
        Err(e)
            if e.as_service_error()
                .is_some_and(GetRoleError::is_no_such_entity_exception) =>
        {
            return None;
        }
        Err(e) => panic!("GetRole {name}: {e:?}"),
    };
    let permissions = iam
        .get_role_policy()
        .role_name(name)
        .policy_name("stsvend-user-buckets")
        .send()
        .await
        .unwrap();
    Some(RoleState {
        max_session: role.max_session_duration.unwrap(),
        trust: decode(role.assume_role_policy_document().unwrap()),
        permissions: decode(permissions.policy_document()),
    })
}

fn trusted_principals(trust: &Value) -> Vec<&str> {
    trust["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Principal"]["AWS"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn bootstrap_creates_a_missing_role_and_a_second_run_changes_nothing() {
    let (name, arn) = fresh_role();
    let first = bootstrap(&arn, SERVICE_USER_ARN, &[], &[]).await;
    assert_eq!(first.code, 0, "{first}");
    assert!(
        first.has_line(&format!("created role {arn} (MaxSessionDuration 3600)")),
        "{first}"
    );
    assert!(
        first.has_line("created permission policy stsvend-user-buckets"),
        "{first}"
    );

    let role = role_state(&name).await.expect("the role exists");
    assert_eq!(role.max_session, 3600);
    assert_eq!(trusted_principals(&role.trust), [SERVICE_USER_ARN, SERVICE_USER_ARN]);
    assert_eq!(
        role.permissions["Statement"][0]["Resource"],
        json!(["arn:aws:s3:::stsvend-*", "arn:aws:s3:::stsvend-*/*"])
    );

    let second = bootstrap(&arn, SERVICE_USER_ARN, &[], &[]).await;
    assert_eq!(second.code, 0, "{second}");
    for expected in [
        format!("unchanged: role {arn}"),
        "unchanged: trust policy".to_owned(),
        "unchanged: MaxSessionDuration 3600 (configured duration 3600)".to_owned(),
        "unchanged: permission policy stsvend-user-buckets".to_owned(),
    ] {
        assert!(second.has_line(&expected), "missing `{expected}`:\n{second}");
    }
    assert!(
        !second
            .lines()
            .iter()
            .any(|l| l.starts_with("created") || l.starts_with("updated")),
        "{second}"
    );
}

#[tokio::test]
async fn a_longer_configured_duration_raises_max_session_duration_only() {
    let (name, arn) = fresh_role();
    assert_eq!(bootstrap(&arn, SERVICE_USER_ARN, &[], &[]).await.code, 0);
    let before = role_state(&name).await.unwrap();

    let longer = [("STSVEND_AWS__SESSION_DURATION_SECONDS", "7200".to_owned())];
    let run = bootstrap(&arn, SERVICE_USER_ARN, &[], &longer).await;
    assert_eq!(run.code, 0, "{run}");
    assert!(run.has_line("updated MaxSessionDuration 3600 -> 7200"), "{run}");
    assert!(run.has_line("unchanged: trust policy"), "{run}");
    assert!(
        run.has_line("unchanged: permission policy stsvend-user-buckets"),
        "{run}"
    );
    let changes = run.lines().iter().filter(|l| l.starts_with("updated")).count();
    assert_eq!(changes, 1, "{run}");

    let after = role_state(&name).await.unwrap();
    assert_eq!(after.max_session, 7200);
    assert_eq!((after.trust, after.permissions), (before.trust, before.permissions));
}

#[tokio::test]
async fn dry_run_prints_the_documents_and_writes_nothing() {
    let (name, arn) = fresh_role();
    let run = bootstrap(&arn, SERVICE_USER_ARN, &["--dry-run"], &[]).await;
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.has_line(&format!("would create role {arn} (MaxSessionDuration 3600)")),
        "{run}"
    );
    assert!(
        run.has_line("would create permission policy stsvend-user-buckets"),
        "{run}"
    );
    for text in [
        "trust policy:",
        "\"sts:SetSourceIdentity\"",
        "\"aws:TagKeys\"",
        "permission policy stsvend-user-buckets:",
        "\"arn:aws:s3:::stsvend-*/*\"",
        "policy the service principal needs",
        "\"s3:PutBucketPublicAccessBlock\"",
        &format!("\"Resource\": \"{arn}\""),
    ] {
        assert!(run.stdout.contains(text), "missing `{text}`:\n{run}");
    }
    assert!(role_state(&name).await.is_none(), "dry run created the role");

    // On an existing role whose trust has drifted: reported, not repaired; a real run repairs.
    assert_eq!(bootstrap(&arn, SERVICE_USER_ARN, &[], &[]).await.code, 0);
    let other = format!("arn:aws:iam::{ACCOUNT}:user/someone-else");
    let dry = bootstrap(&arn, &other, &["--dry-run"], &[]).await;
    assert!(dry.has_line("would update trust policy"), "{dry}");
    assert_eq!(
        trusted_principals(&role_state(&name).await.unwrap().trust)[0],
        SERVICE_USER_ARN
    );
    let real = bootstrap(&arn, &other, &[], &[]).await;
    assert!(real.has_line("updated trust policy"), "{real}");
    assert_eq!(trusted_principals(&role_state(&name).await.unwrap().trust)[0], other);
}

/// A throwaway IAM user allowed to assume `role_arn`, standing in for a service principal;
/// returns its ARN and keys.
async fn principal_for(role_arn: &str) -> (String, Credentials) {
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
        "Resource": role_arn
    }]});
    user_with_policy("ops-test", &policy).await
}

#[tokio::test]
async fn a_bootstrapped_role_is_assumable_by_its_principal_and_reaches_only_the_prefix() {
    let (_, arn) = fresh_role();
    let prefix = format!("ops{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (principal, creds) = principal_for(&arn).await;
    let env = [("STSVEND_STORAGE__BUCKET_PREFIX", prefix.clone())];
    let run = bootstrap(&arn, &principal, &[], &env).await;
    assert_eq!(run.code, 0, "{run}");

    // The trust policy allows the configured session tag and no other.
    assert_eq!(
        assume(creds.clone(), &arn, "some-other-tag").await.err().as_deref(),
        Some("AccessDenied")
    );
    let session = assume(creds, &arn, "stsvend-user")
        .await
        .expect("the principal assumes the role");
    let keys = s3_with(Credentials::new(
        session.access_key_id,
        session.secret_access_key,
        Some(session.session_token),
        None,
        "session",
    ));

    let inside = format!("{prefix}-own");
    let created = keys.create_bucket().bucket(&inside).send().await;
    assert_eq!(s3_code(&created), "ok");
    let put = keys
        .put_object()
        .bucket(&inside)
        .key("k")
        .body(b"x".to_vec().into())
        .send()
        .await;
    assert_eq!(s3_code(&put), "ok");

    // Another bucket of the account, the seeded prefix included, is out of reach.
    let outside = format!(
        "stsvend-ops-outside-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let root_s3 = s3_with(Credentials::new("test", "test", None, None, "root"));
    root_s3.create_bucket().bucket(&outside).send().await.unwrap();
    let listed = keys.list_objects_v2().bucket(&outside).send().await;
    assert_eq!(s3_code(&listed), "AccessDenied");
    let put = keys
        .put_object()
        .bucket(&outside)
        .key("k")
        .body(b"x".to_vec().into())
        .send()
        .await;
    assert_eq!(s3_code(&put), "AccessDenied");
    let other_prefix = keys.create_bucket().bucket(format!("{prefix}x-own")).send().await;
    assert_eq!(s3_code(&other_prefix), "AccessDenied");
}

#[tokio::test]
async fn the_seeded_role_made_by_bootstrap_is_assumable_by_the_service_user() {
    let service = service_credentials();
    let role_arn = required_env("STSVEND_AWS__ROLE_ARN");
    assert!(assume(service.clone(), &role_arn, "stsvend-user").await.is_ok());
    assert_eq!(
        assume(service, &role_arn, "another-tag").await.err().as_deref(),
        Some("AccessDenied")
    );
}

/// IAM applies a role's changes after a few seconds: when the caller is the principal it
/// trusts, bootstrap tries `AssumeRole` until it works (printing progress) before it ends.
#[tokio::test]
async fn bootstrap_waits_until_the_role_it_changed_can_be_assumed() {
    let (_, arn) = fresh_role();
    let root = format!("arn:aws:iam::{ACCOUNT}:root");
    let run = bootstrap(&arn, &root, &[], &[]).await;
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.lines().iter().any(|l| l.starts_with("role assumable after ")),
        "{run}"
    );
    // Nothing changed on a second run: nothing to wait for.
    let again = bootstrap(&arn, &root, &[], &[]).await;
    assert!(
        !again.lines().iter().any(|l| l.starts_with("role assumable")),
        "{again}"
    );
}
