//! Storage quotas (issue 25): usage from S3's events, limits, and the cut of live write
//! sessions in the bucket policy.

// The bucket-policy Deny of over-limit owners' writes (`usecase::quota::deny`).
mod deny;
mod deny_full;
mod deny_race;
