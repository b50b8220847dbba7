//! Role chaining: when stsvend's own credentials are an assumed-role session (an ECS task
//! role, EKS, IAM Identity Center), AWS caps the sessions it assumes at one hour and refuses a
//! longer `DurationSeconds` with a `ValidationError`. `doctor` warns of it from the caller's
//! identity; start-up refuses it from the trial `AssumeRole`'s answer, with the same words.

use crate::aws::Error;

/// AWS's cap on a session assumed with role credentials, in seconds.
pub const ROLE_CHAINING_CAP: u64 = 3600;

/// What the operator is told when `duration` exceeds the cap on role credentials.
pub fn chaining_refused(duration: u64) -> String {
    format!(
        "the service runs on role credentials, and AWS caps sessions assumed with them at {ROLE_CHAINING_CAP} s; aws.session_duration_seconds = {duration} will be refused: lower it or give the service non-role credentials"
    )
}

/// True when STS refused `AssumeRole` for exceeding the chained-session cap (AWS: "The
/// requested `DurationSeconds` exceeds the 1 hour session limit for roles assumed by role
/// chaining.").
pub fn is_chaining_refusal(e: &Error) -> bool {
    matches!(e, Error::Rejected { code, detail, .. }
        if code == "ValidationError" && detail.contains("role chaining"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_chained_session_validation_error_counts() {
        let rejected = |code: &str, detail: &str| Error::Rejected {
            service: crate::aws::Service::Sts,
            operation: "AssumeRole".to_owned(),
            code: code.to_owned(),
            detail: detail.to_owned(),
        };
        assert!(is_chaining_refusal(&rejected(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
        )));
        assert!(!is_chaining_refusal(&rejected(
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )));
        assert!(!is_chaining_refusal(&Error::Denied {
            service: crate::aws::Service::Sts,
            operation: "AssumeRole".to_owned(),
            detail: "role chaining".to_owned(),
        }));
    }
}
