//! How an admin action's refusals and failures reach the operator: each [`AdminError`] as a
//! [`Failure`].

use super::AdminError;
use crate::usecase::error::{Failure, code};

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NoSuchUser(id) => Self::not_found(format!("no user {id}")),
            e @ AdminError::BadUserId(_) => Self::invalid(code::Invalid::InvalidUserId, &e),
            AdminError::NoSuchOrg(id) => Self::not_found(format!("no organisation {id}")),
            e @ AdminError::BadOrgId(_) => Self::invalid(code::Invalid::InvalidOrgId, &e),
            e @ AdminError::BucketNotEmpty { .. } => Self::conflict(code::Conflict::BucketNotEmpty, &e),
            AdminError::Aws(e) => Self::aws("admin action", &e),
            // Logged where it happened (admin/shared.rs).
            AdminError::PolicyBusy => Self::unavailable(code::Unavailable::SharedBucketPolicy),
            AdminError::Store(e) => Self::store("admin action", &e),
            // Logged and counted where it was refused (provision::Inner::checked).
            AdminError::Mapping(e) => Self::from(&e),
        }
    }
}
