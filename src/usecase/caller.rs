//! Who is asking: the bearer token a route received, verified into the [`Caller`] every use
//! case acts for. Verifying tokens is `auth`'s work; this is the routes' way to it, answering
//! in the use cases' [`Failure`].

use std::sync::Arc;

pub use crate::auth::Caller;
use crate::auth::Verifier;
use crate::usecase::error::Failure;

pub struct Authenticator {
    verifier: Verifier,
}

impl Authenticator {
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }

    /// The caller of a user route (credentials, presign, me): a machine token is refused
    /// unless `auth.allow_client_credentials` is on.
    pub async fn user(&self, token: &str) -> Result<Arc<Caller>, Failure> {
        Ok(self.verifier.verify(token).await?)
    }

    /// The caller of an admin route: machine tokens too (the admin API's callers are often ops
    /// tooling); the admin permission is checked by [`Admin::authorize`](super::admin::Admin::authorize).
    pub async fn any(&self, token: &str) -> Result<Arc<Caller>, Failure> {
        Ok(self.verifier.verify_any(token).await?)
    }
}
