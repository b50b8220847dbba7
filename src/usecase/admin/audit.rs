//! Who may use the admin API, and its audit: the API is off unless `admin.permission` is
//! configured; a caller needs a token (user or machine) carrying that permission and meeting
//! `auth.required_claims`. Every action is written to the admin audit log before it runs, and
//! its outcome after; refusals of authenticated callers are recorded too.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use super::Admin;
use crate::runtime::clock::{format_time, now};
use crate::store::AdminAction;
use crate::usecase::caller::Caller;
use crate::usecase::error::{Failure, code};

/// An authenticated caller holding the admin permission.
pub struct AdminCaller {
    caller: Arc<Caller>,
    client_addr: Option<String>,
}

/// How a recorded action ended.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Ok,
    /// The caller or the request was refused (a 4xx).
    Refused,
    /// The action could not be carried out (a 5xx).
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

impl Admin {
    /// The admin API is on (`admin.permission` is configured): checked before the caller's
    /// token, so a service without it answers 404 to everyone.
    pub fn enabled(&self) -> Result<(), Failure> {
        self.permission().map(|_| ())
    }

    /// The permission an admin's token must carry; not found while the admin API is off.
    fn permission(&self) -> Result<&str, Failure> {
        self.permission
            .as_deref()
            .ok_or_else(|| Failure::not_found("the admin API is not enabled (configure admin.permission)"))
    }

    /// `caller` as an admin, reached from `client_addr`: they must hold the admin permission and
    /// meet `auth.required_claims`. A refusal is audited.
    pub async fn authorize(&self, caller: Arc<Caller>, client_addr: Option<IpAddr>) -> Result<AdminCaller, Failure> {
        let permission = self.permission()?;
        let admin = AdminCaller {
            caller,
            client_addr: client_addr.map(|a| a.to_string()),
        };
        // `auth.required_claims` binds admins as it binds users: an admin of another Auth0
        // organisation holding the permission is no admin here.
        if let Some(claim) = &admin.caller.unmet_claim {
            let id = self.record(&admin, "authorize", None, None).await?;
            self.finish(
                id,
                Outcome::Refused,
                Some(format!("missing the required claim `{claim}`")),
            )
            .await;
            return Err(Failure::forbidden(
                code::Forbidden::RequiredClaimMissing,
                &format!(
                    "this service requires the token claim `{claim}` (with its configured value); it is missing or different"
                ),
            ));
        }
        if !admin.caller.has_permission(permission) {
            let id = self.record(&admin, "authorize", None, None).await?;
            self.finish(id, Outcome::Refused, Some("missing the admin permission".to_owned()))
                .await;
            return Err(Failure::forbidden(
                code::Forbidden::InsufficientScope,
                &format!("the admin API needs `{permission}`"),
            ));
        }
        Ok(admin)
    }

    /// Runs one admin action between its two audit writes: nothing runs unaudited. `action`
    /// names it in the log (`users.revoke`), `target` is what it acts on.
    pub async fn audited<T, F>(
        &self,
        admin: &AdminCaller,
        action: &str,
        target: Option<&str>,
        run: F,
    ) -> Result<T, Failure>
    where
        F: Future<Output = Result<T, Failure>>,
    {
        self.audited_with(admin, action, target, None, run).await
    }

    /// [`Admin::audited`], with `detail` on the row from the start (what else the action
    /// names besides its target: a member of an org); a failure's code replaces it.
    pub async fn audited_with<T, F>(
        &self,
        admin: &AdminCaller,
        action: &str,
        target: Option<&str>,
        detail: Option<String>,
        run: F,
    ) -> Result<T, Failure>
    where
        F: Future<Output = Result<T, Failure>>,
    {
        let id = self.record(admin, action, target, detail).await?;
        tracing::info!(actor = %admin.caller.subject, action, target, "admin action");
        match run.await {
            Ok(v) => {
                self.finish(id, Outcome::Ok, None).await;
                Ok(v)
            }
            Err(e) => {
                let outcome = if e.is_refusal() {
                    Outcome::Refused
                } else {
                    Outcome::Failed
                };
                self.finish(id, outcome, Some(e.code().to_owned())).await;
                Err(e)
            }
        }
    }

    /// Writes an admin action's audit row before it runs; returns the row's id. Nothing runs
    /// when it cannot be written.
    async fn record(
        &self,
        admin: &AdminCaller,
        action: &str,
        target: Option<&str>,
        detail: Option<String>,
    ) -> Result<i64, Failure> {
        self.store
            .record_admin_action(AdminAction {
                at: format_time(now()),
                actor: admin.caller.subject.clone(),
                actor_client: admin.caller.client_id.clone(),
                action: action.to_owned(),
                target: target.map(str::to_owned),
                outcome: "started".to_owned(),
                detail,
                client_addr: admin.client_addr.clone(),
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "admin audit write failed; action refused");
                Failure::unavailable(code::Unavailable::AuditLog)
            })
    }

    /// Sets the outcome of a recorded admin action.
    async fn finish(&self, id: i64, outcome: Outcome, detail: Option<String>) {
        if let Err(e) = self.store.finish_admin_action(id, outcome.as_str(), detail).await {
            tracing::error!(error = %e, audit_id = id, "admin audit outcome not recorded");
        }
    }
}
