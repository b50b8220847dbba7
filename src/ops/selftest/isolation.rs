//! The checks that one probe's keys reach nothing of the other's: every verb on its storage
//! and a copy out of it (`isolation`; in prefix mode also the shared bucket's root, the stem
//! without its slash and a prefix sharing it), and pre-signed URLs (`presign`). The requests
//! (`reach`, `root`, `stem`) and their verdict (`judge`) serve `org-isolation` too.

use std::time::{Duration, Instant};

use super::{BODY, Deployment, Keyed, Probe, Report, SEED, SEED_BODY, Storage, Vended};
use crate::aws::probe::{Outcome, ProbeS3, fetch};
use crate::config::AwsConfig;
use crate::identity::BucketName;

/// What one request tried, how S3 answered, and how long it took.
pub(super) type Try = (String, Outcome, Duration);

/// Probe a's keys against everything that is not its storage: every verb on probe b's, and
/// in prefix mode the shared bucket's root, its own stem without the slash (which would
/// cover `users/<id>x/`) and a prefix sharing that stem.
pub(super) async fn isolation(aws: &AwsConfig, access: &str, a: &Vended, b: &Vended, report: &mut Report) {
    let s3 = ProbeS3::new(aws, &a.keys);
    let mut tries = reach(&s3, &a.storage, &b.storage, "the other probe's storage").await;
    if !a.storage.prefix.is_empty() {
        tries.extend(root(&s3, &a.storage.bucket).await);
        tries.extend(stem(&s3, &a.storage, None).await);
    }
    judge("isolation", access, tries, report);
}

/// Every verb on `other` (named `whose`) with keys whose storage is `own`, and a copy out of
/// it into `own`.
pub(super) async fn reach(s3: &ProbeS3, own: &Storage, other: &Storage, whose: &str) -> Vec<Try> {
    let ob = &other.bucket;
    let intruder = other.key("selftest-intruder.txt");
    vec![
        timed(&format!("put on {whose}"), s3.put(ob, &intruder, BODY)).await,
        timed(&format!("get on {whose}"), s3.get(ob, &other.key(SEED), SEED_BODY)).await,
        timed(&format!("list of {whose}"), s3.list(ob, &other.prefix)).await,
        timed(&format!("delete on {whose}"), s3.delete(ob, &intruder)).await,
        timed(
            &format!("multipart upload to {whose}"),
            s3.multipart(ob, &other.key("selftest-intruder.bin"), BODY),
        )
        .await,
        timed(
            &format!("copy from {whose} into its own"),
            s3.copy(ob, &other.key(SEED), &own.bucket, &own.key("selftest-copied.txt")),
        )
        .await,
    ]
}

/// Listing and writing at the shared bucket's root (prefix mode).
pub(super) async fn root(s3: &ProbeS3, bucket: &BucketName) -> Vec<Try> {
    vec![
        timed("list at the shared bucket's root", s3.list(bucket, "")).await,
        timed(
            "put at the shared bucket's root",
            s3.put(bucket, "selftest-root.txt", BODY),
        )
        .await,
    ]
}

/// A prefix's stem without its slash (which would cover `users/<id>x/`) and a prefix sharing
/// that stem, listed and written: the keys' own prefix (`owner` `None`), or an org's (named).
pub(super) async fn stem(s3: &ProbeS3, storage: &Storage, owner: Option<&str>) -> Vec<Try> {
    let bucket = &storage.bucket;
    let stem = storage.prefix.trim_end_matches('/');
    let sharing = format!("{stem}x/");
    let (whose, list_sharing, put_sharing) = match owner {
        None => (
            "its".to_owned(),
            format!("list of a stem-sharing prefix ({sharing})"),
            format!("put under a stem-sharing prefix ({sharing})"),
        ),
        Some(o) => (
            format!("{o}'s"),
            format!("list of a prefix sharing {o}'s stem ({sharing})"),
            format!("put under a prefix sharing {o}'s stem ({sharing})"),
        ),
    };
    vec![
        timed(
            &format!("list of {whose} stem without the slash ({stem})"),
            s3.list(bucket, stem),
        )
        .await,
        timed(
            &format!("put of {whose} stem without the slash ({stem})"),
            s3.put(bucket, stem, BODY),
        )
        .await,
        timed(&list_sharing, s3.list(bucket, &sharing)).await,
        timed(&put_sharing, s3.put(bucket, &format!("{sharing}selftest.txt"), BODY)).await,
    ]
}

/// One line of `check` per try: passed when S3 denied it.
pub(super) fn judge(check: &'static str, access: &str, tries: Vec<Try>, report: &mut Report) {
    for (what, outcome, took) in tries {
        let result = match outcome {
            Outcome::Denied(code) => Ok(format!("`{access}` keys: {what} denied ({code})")),
            Outcome::Allowed => Err(format!("`{access}` keys: {what} ALLOWED")),
            Outcome::Failed(e) => Err(format!("`{access}` keys: {what} neither allowed nor denied: {e}")),
        };
        report.record_took(check, took, result);
    }
}

/// `request`'s outcome and how long it took, under the name `what`.
async fn timed(what: &str, request: impl std::future::Future<Output = Outcome>) -> Try {
    let started = Instant::now();
    let outcome = request.await;
    (what.to_owned(), outcome, started.elapsed())
}

/// A URL from the presign use case reads the probe's object; the same URL turned to the other
/// probe's storage, and a URL the probe's keys sign for the other's object, are refused.
pub(super) async fn presign<D: Deployment>(d: &D, aws: &AwsConfig, a: &Probe, k: &Keyed, report: &mut Report) {
    let started = Instant::now();
    match d.presign_get(a, SEED).await {
        Err(e) => {
            report.fail("presign", started, format!("the presign use case refused probe a: {e}"));
        }
        Ok(url) => {
            let result = match fetch(&url, SEED_BODY).await {
                Outcome::Allowed => Ok("a URL from the presign use case reads probe a's object".to_owned()),
                other => Err(format!(
                    "a URL from the presign use case for probe a's object: {other:?}"
                )),
            };
            report.record("presign", started, result);
            let started = Instant::now();
            let turned = turn(&url, &k.a.storage, &k.b.storage);
            let result = match fetch(&turned, SEED_BODY).await {
                Outcome::Denied(code) => Ok(format!(
                    "probe a's URL turned to the other probe's storage is refused ({code})"
                )),
                Outcome::Allowed => Err("probe a's URL turned to the other probe's storage READ ITS OBJECT".to_owned()),
                Outcome::Failed(e) => Err(format!(
                    "probe a's URL turned to the other probe's storage: neither refused nor served: {e}"
                )),
            };
            report.record("presign", started, result);
        }
    }
    let started = Instant::now();
    let s3 = ProbeS3::new(aws, &k.a.keys);
    let result = match s3
        .presign_get(&k.b.storage.bucket, &k.b.storage.key(SEED), Duration::from_mins(5))
        .await
    {
        Err(e) => Err(format!("signing a URL with probe a's keys: {e}")),
        Ok(url) => match fetch(&url, SEED_BODY).await {
            Outcome::Denied(code) => Ok(format!(
                "a URL probe a's keys sign for the other probe's object is refused ({code})"
            )),
            Outcome::Allowed => Err("a URL probe a's keys sign for the other probe's object READ IT".to_owned()),
            Outcome::Failed(e) => Err(format!(
                "a URL probe a's keys sign for the other probe's object: neither refused nor served: {e}"
            )),
        },
    };
    report.record("presign", started, result);
}

/// `url` with `from`'s bucket and prefix replaced by `to`'s in its host and path (its
/// signature left as it is).
fn turn(url: &str, from: &Storage, to: &Storage) -> String {
    let (location, query) = url.split_once('?').unwrap_or((url, ""));
    let mut location = location.replace(from.bucket.as_str(), to.bucket.as_str());
    if !from.prefix.is_empty() {
        location = location.replace(&from.prefix, &to.prefix);
    }
    format!("{location}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_turned_in_its_location_only() {
        let storage = |b: &str, p: &str| Storage {
            bucket: BucketName::parse(b).unwrap(),
            prefix: p.to_owned(),
        };
        let (a, b) = (storage("stsvend-aaa", ""), storage("stsvend-bbb", ""));
        assert_eq!(
            turn(
                "http://127.0.0.1:4566/stsvend-aaa/k?X-Amz-Signature=stsvend-aaa",
                &a,
                &b
            ),
            "http://127.0.0.1:4566/stsvend-bbb/k?X-Amz-Signature=stsvend-aaa"
        );
        let (a, b) = (storage("shared-1", "users/aa/"), storage("shared-1", "users/bb/"));
        assert_eq!(
            turn("https://shared-1.s3.amazonaws.com/users/aa/k?q=users/aa/", &a, &b),
            "https://shared-1.s3.amazonaws.com/users/bb/k?q=users/aa/"
        );
    }
}
