//! What a caller can ask stsvend for, independent of HTTP: `vend` (keys for a template, the
//! route both credential endpoints share), `presign` (URLs and POST forms signed with vended
//! keys) and `admin` (an operator's view of users: list, revoke, delete).

pub mod admin;
pub mod presign;
pub mod vend;
