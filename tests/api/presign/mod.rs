//! `POST /v1/presign` and `POST /v1/presign/post` (README "URLs for clients without an S3
//! SDK"): URLs used with plain HTTP clients, forms in Chromium, signed upload lengths, and keys
//! written to reach another user's object. Prefix mode's URLs are in `prefix/presign.rs`.

mod forms;
mod length;
mod other_users;
mod urls;
