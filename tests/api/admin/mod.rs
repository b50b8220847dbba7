//! The admin API (`/admin/v1`, README "Admin API and revocation"): who may call it, disable,
//! revoke, delete, key lookup and the audit; called cross-origin as the web app's console does,
//! and the console itself in Chromium.

mod api;
mod browser;
pub mod console;
pub mod delete;
