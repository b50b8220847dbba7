//! Storage quotas and usage (`[quota]`, issue 25).

// limits: overrides, enforcement on vend and presign, the warning, `/v1/me` usage. The
// ledger is filled directly here (`limits::fill`): the queue consumer's own tests feed it
// from S3.
mod enforce;
mod enforce_fleet;
mod enforce_presign;
mod limits;
mod overrides;
mod overrides_cli;
