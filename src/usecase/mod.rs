//! What a caller can ask stsvend for, independent of HTTP: `vend` (keys for a template, the
//! route both credential endpoints share), `presign` (URLs and POST forms signed with vended
//! keys), `admin` (an operator's view of users: list, revoke, delete) and `quota` (usage and
//! limits); `caller` (who is
//! asking: a bearer token verified) and `health` (what readiness and the metrics report).
//! Every one of them answers in one classified error, [`Failure`] (`error`).

pub mod admin;
pub mod caller;
pub mod error;
pub mod health;
pub mod presign;
pub mod quota;
pub mod vend;

pub use error::{Failure, code};
