//! `stsvend bootstrap`: creates the role stsvend assumes, or brings an existing one in line.
//!
//! The role (`aws.role_arn`) trusts the service principal only, may be assumed with the session
//! tag and a source identity, reaches only `<storage.bucket_name_prefix>-*` buckets, and allows
//! sessions at least as long as `aws.session_duration_seconds`. Every run reads first and writes
//! only what differs, printing one line per item; `--dry-run` stops after the reading. With
//! `[quota]` (or `--quota`) it also makes the usage queue (`usage_queue`) and points the shared
//! bucket's object events at it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::documents::{self, PERMISSION_POLICY_NAME};
use super::plan::{Desired, MIN_MAX_SESSION, Observed, Step, plan};
use super::{OpsError, RoleArn, role_of_session, usage_queue};
use crate::aws::gate::AwsGate;
use crate::aws::iam::{Iam, NewRole};
use crate::aws::s3::{Buckets, Created};
use crate::aws::sqs::{Sqs, configured_queue_arn};
use crate::aws::sts::{CallerIdentity, Sts};
use crate::aws::{Error as AwsError, Sdk};
use crate::config::Config;

pub struct Options {
    pub dry_run: bool,
    /// Who may assume the role; the caller's own identity when absent.
    pub principal_arn: Option<String>,
    /// Create the usage queue (quotas) even though `[quota]` is not configured yet.
    pub quota: bool,
}

pub async fn run(config: &Config, opts: &Options) -> Result<(), OpsError> {
    let role = RoleArn::parse(&config.aws.role_arn)?;
    let account = config.aws.account_id();
    let sdk = Sdk::load(&config.aws).await;
    let iam = Iam::new(&sdk);
    let gate = AwsGate::for_command(&config.aws, &config.limits);
    let sts = Sts::new(&sdk, &config.aws, Arc::clone(&gate));

    let caller = sts.caller_identity().await?;
    println!("caller: {}", caller.arn);
    if caller.account != role.account {
        return Err(OpsError::Invalid(format!(
            "aws.role_arn is in account {} but these credentials are of account {}",
            role.account, caller.account
        )));
    }
    let principal = match &opts.principal_arn {
        Some(p) => check_principal(p)?,
        None => default_principal(&iam, &caller).await,
    };
    println!("principal: {principal}");
    if principal.ends_with(":root") {
        println!(
            "warning: trusting {principal} lets every identity in that account with sts:AssumeRole permission assume the role; pass --principal-arn with the service's own user or role"
        );
    }

    let desired = Desired {
        trust: documents::trust_policy_with(
            &principal,
            &config.aws.session_tag_key,
            &config.sts.session_tags.keys().map(String::as_str).collect::<Vec<_>>(),
        ),
        permissions: documents::permission_policy(&role.partition, &config.storage.bucket_name_prefix, &account),
        session_seconds: i32::try_from(config.aws.session_duration_seconds).unwrap_or(i32::MAX),
    };
    let service_policy = documents::service_principal_policy(
        &role.partition,
        &config.storage.bucket_name_prefix,
        &config.aws.role_arn,
        &account,
    );

    if opts.dry_run {
        println!("trust policy:\n{}", documents::pretty(&desired.trust));
        println!(
            "permission policy {PERMISSION_POLICY_NAME}:\n{}",
            documents::pretty(&desired.permissions)
        );
        println!(
            "policy the service principal needs (attach it to {principal} yourself; bootstrap does not):\n{}",
            documents::pretty(&service_policy)
        );
    }
    let observed = observe(&iam, &role).await?;
    if let Some(o) = observed.as_ref().filter(|o| o.arn != config.aws.role_arn) {
        println!(
            "warning: the role named {} is {}, not aws.role_arn {}; fix the path in aws.role_arn",
            role.name, o.arn, config.aws.role_arn
        );
    }
    let steps = plan(&desired, observed.as_ref());
    for step in &steps {
        if !opts.dry_run {
            apply(&iam, &role, &desired, step).await?;
        }
        println!("{} {}", step.verb(opts.dry_run), step.describe(&config.aws.role_arn));
    }
    if observed.is_some() {
        warn_other_policies(&iam, &role.name).await;
    }
    let changed = steps.iter().any(|s| !matches!(s, Step::Unchanged(_)));
    if !opts.dry_run && changed {
        if principal == default_principal(&iam, &caller).await {
            wait_assumable(&sts, &config.aws.role_arn).await?;
        } else {
            println!(
                "note: IAM applies role changes after a few seconds; until then AssumeRole is refused. Run `stsvend doctor` as {principal} to see the role assumable"
            );
        }
    }
    let queue = if config.quota.is_some() || opts.quota {
        let url = usage_queue::ensure(config, &Sqs::for_command(&sdk), &role.partition, opts.dry_run).await?;
        if opts.dry_run {
            let arn = url.as_deref().and_then(|u| configured_queue_arn(&config.aws, u));
            println!(
                "the service principal also needs, for quotas:\n{}",
                documents::pretty(&documents::quota_service_statements(
                    &role.partition,
                    &config.storage.bucket_name_prefix,
                    arn.as_deref().unwrap_or("<the usage queue's ARN>"),
                ))
            );
        }
        url.and_then(|u| configured_queue_arn(&config.aws, &u))
    } else {
        None
    };
    if let Some(shared) = config.storage.shared_bucket() {
        shared_bucket(config, &sdk, gate, &shared, queue, opts.dry_run).await?;
    }
    if !opts.dry_run {
        println!("note: the service principal needs its own policy; `stsvend bootstrap --dry-run` prints it");
    }
    Ok(())
}

/// Prefix mode's shared bucket: created if missing, and given a user bucket's settings
/// (public access blocked, default encryption, owner-enforced objects, CORS) either way.
async fn shared_bucket(
    config: &Config,
    sdk: &Sdk,
    gate: Arc<AwsGate>,
    bucket: &crate::identity::BucketName,
    queue_arn: Option<String>,
    dry_run: bool,
) -> Result<(), OpsError> {
    let notified = if queue_arn.is_some() {
        ", object events sent to the usage queue"
    } else {
        ""
    };
    if dry_run {
        println!("would create (if missing) and lock down the shared bucket {bucket}{notified}");
        return Ok(());
    }
    let buckets = Buckets::new(sdk, &config.storage, &config.aws, gate).with_notifications(queue_arn);
    match buckets.create(bucket).await? {
        Created::Yes => {}
        Created::TakenByOther => {
            return Err(OpsError::Invalid(format!(
                "storage.shared_bucket {bucket} belongs to another account; choose another name"
            )));
        }
        Created::Busy | Created::QuotaExhausted => {
            return Err(OpsError::Invalid(format!(
                "S3 would not create {bucket} now (OperationAborted or TooManyBuckets); run bootstrap again later"
            )));
        }
    }
    buckets.configure_shared(bucket).await?;
    println!(
        "shared bucket {bucket}: public access blocked, encrypted by default, objects owned by the bucket owner, CORS set{notified}"
    );
    Ok(())
}

/// How long bootstrap waits for IAM to let the principal assume a role it just changed.
const ASSUMABLE_WAIT: Duration = Duration::from_mins(1);

/// Tries `AssumeRole` (as the caller, who is the trusted principal) until IAM has applied the
/// role's changes, printing progress; refused for longer than `ASSUMABLE_WAIT` is an error.
async fn wait_assumable(sts: &Sts, role_arn: &str) -> Result<(), OpsError> {
    let started = Instant::now();
    loop {
        match sts.assume_plain(role_arn, "stsvend-bootstrap-check", 900).await {
            Ok(()) => {
                println!("role assumable after {} s", started.elapsed().as_secs());
                return Ok(());
            }
            Err(e) if e.is_denied() && started.elapsed() < ASSUMABLE_WAIT => {
                println!(
                    "waiting for IAM to apply the role ({} s)...",
                    started.elapsed().as_secs()
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn check_principal(arn: &str) -> Result<String, OpsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts[..] {
        ["arn", partition, "iam" | "sts", "", account, resource]
            if !partition.is_empty() && account.len() == 12 && !resource.is_empty() =>
        {
            Ok(arn.to_owned())
        }
        _ => Err(OpsError::Invalid(format!(
            "--principal-arn `{arn}` is not an IAM principal ARN (arn:<partition>:iam::<account>:user/<name>, role/<name> or root)"
        ))),
    }
}

/// The caller, as a principal a trust policy can name: an assumed-role session becomes its role
/// (looked up, so a role path is kept).
async fn default_principal(iam: &Iam, caller: &CallerIdentity) -> String {
    let Some(role_arn) = role_of_session(&caller.arn) else {
        return caller.arn.clone();
    };
    let name = role_arn.rsplit('/').next().unwrap_or_default();
    match iam.role(name).await {
        Ok(found) => found.map_or(role_arn, |r| r.arn),
        Err(_) => role_arn,
    }
}

async fn observe(iam: &Iam, role: &RoleArn) -> Result<Option<Observed>, OpsError> {
    let Some(found) = iam.role(&role.name).await? else {
        return Ok(None);
    };
    let permissions = iam
        .role_policy(&role.name, PERMISSION_POLICY_NAME)
        .await?
        .and_then(|doc| documents::parse_returned(&doc));
    Ok(Some(Observed {
        trust: found.trust.as_deref().and_then(documents::parse_returned),
        max_session: found.max_session_seconds.unwrap_or(MIN_MAX_SESSION),
        arn: found.arn,
        permissions,
    }))
}

async fn apply(iam: &Iam, role: &RoleArn, desired: &Desired, step: &Step) -> Result<(), AwsError> {
    match step {
        Step::CreateRole { max_session } => {
            iam.create_role(NewRole {
                name: &role.name,
                path: &role.path,
                trust: desired.trust.to_string(),
                max_session_seconds: *max_session,
                description: "stsvend: per-user S3 sessions, each narrowed by a session policy",
                tag: ("managed-by", "stsvend"),
            })
            .await
        }
        Step::UpdateTrust => iam.set_trust(&role.name, desired.trust.to_string()).await,
        Step::RaiseMaxSession { to, .. } => iam.set_max_session(&role.name, *to).await,
        Step::PutPermissions { .. } => {
            iam.put_role_policy(&role.name, PERMISSION_POLICY_NAME, desired.permissions.to_string())
                .await
        }
        Step::Unchanged(_) => Ok(()),
    }
}

/// Other policies on the role widen it beyond the prefix; bootstrap names them but does not
/// remove what someone else put there.
async fn warn_other_policies(iam: &Iam, name: &str) {
    match iam.inline_policies(name).await {
        Ok(names) => {
            for other in names.iter().filter(|n| *n != PERMISSION_POLICY_NAME) {
                println!(
                    "warning: the role also has inline policy {other}; its permissions then reach beyond the bucket prefix"
                );
            }
        }
        Err(e) => println!("warning: cannot list the role's inline policies: {e}"),
    }
    match iam.attached_policies(name).await {
        Ok(arns) => {
            for arn in arns {
                println!(
                    "warning: the role also has managed policy {arn} attached; its permissions then reach beyond the bucket prefix"
                );
            }
        }
        Err(e) => println!("warning: cannot list the role's attached policies: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_arns_are_checked() {
        assert!(check_principal("arn:aws:iam::000000000000:user/stsvend-service").is_ok());
        assert!(check_principal("arn:aws:iam::000000000000:root").is_ok());
        assert!(check_principal("stsvend-service").is_err());
        assert!(check_principal("arn:aws:s3:::bucket").is_err());
    }
}
