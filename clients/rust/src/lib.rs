//! AWS credentials from stsvend for aws-sdk-rust.
//!
//! stsvend turns your user's access token into short-lived AWS keys scoped to their own
//! storage. [`StsvendCredentials`] is a `ProvideCredentials`: give it to an SDK client and it
//! vends with the token whenever the SDK's identity cache asks (each answer carries its expiry),
//! retrying stsvend's "busy" answers (429/503, honouring `Retry-After`) and never a refusal
//! (401/403). [`StsvendCredentials::storage`] says where the keys reach.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use stsvend_credentials::{StsvendCredentials, TokenSource};
//!
//! let stsvend = StsvendCredentials::builder("https://stsvend.example.com")
//!     .token(TokenSource::file("/run/stsvend/token")) // re-read on every vend
//!     .build()?;
//! let storage = stsvend.storage().await?; // bucket, prefix, region, endpoint
//! // aws_sdk_s3::Config::builder().region(Region::new(storage.region.clone()))
//! //     .credentials_provider(stsvend.clone()) ...; keys: storage.key("photos/1.jpg")
//! # Ok(()) }
//! ```

mod error;
mod provider;
mod retry;
mod token;
mod vend;

pub use error::{ApiError, BoxError, Error};
pub use provider::{Builder, StsvendCredentials};
pub use token::TokenSource;
pub use vend::{Storage, Vend};
