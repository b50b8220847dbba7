//! The shared bucket of prefix mode: its policy's revocation statements, rendered from the
//! cut-offs in the database (`Store::prefix_revocations`).
//!
//! Every user of a shared bucket is revoked through the one bucket policy, which S3 limits to
//! 20 KiB. So the Deny statements are grouped by cut-off second (one statement lists every
//! user revoked at that second), and a cut-off is dropped once it is older than the longest
//! session: no session issued before it is still alive. The database is the source of truth;
//! each write renders every cut-off still alive, so a write never loses another's.
//!
//! When the statements would not fit, the oldest group whose users were given nothing since
//! their cut-off (no keys, no pre-signed URL: the audit says when each user last got one) is
//! merged into the next one, at its later cut-off, until they fit: a later cut-off denies
//! nothing more of theirs, and their recorded cut-off moves with them, so no replica hands out
//! keys issued before it. A user given something since keeps their own cut-off: moving it
//! would deny a session issued after their revocation. A revocation is never dropped. When no
//! such merge is left, the revoke is refused ([`Error::PolicyFull`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::policy::{deny_sessions, split_policy};
use crate::aws::Error;
use crate::identity::{BucketName, PrefixRevocation, UserId};

/// `Sid` prefix of stsvend's statements in a shared bucket's policy: `StsvendRevokeAt<unix
/// seconds of the cut-off>`. Statements with other `Sid`s are kept as they are.
pub const SHARED_REVOKE_SID: &str = "StsvendRevokeAt";

/// How far apart this host's clock (the audit's hand-out times) and AWS's (cut-offs, issue
/// times) may be when deciding that a user was given nothing since their cut-off.
const HAND_OUT_SLACK: time::Duration = time::Duration::minutes(1);

/// S3's limit on a bucket policy's size (bytes).
pub const MAX_BUCKET_POLICY_BYTES: usize = 20 * 1024;

/// A shared bucket's policy, ready to write.
#[derive(Debug)]
pub struct SharedPolicy {
    pub text: String,
    /// Statements in `text`: none means the bucket should have no policy (S3 refuses an
    /// empty one).
    pub statements: usize,
    /// Users whose cut-off moved later to make the statements fit, with the new cut-off.
    pub moved: Vec<PrefixRevocation>,
}

impl SharedPolicy {
    /// The size of the policy the bucket will have once written (none: 0).
    pub fn bytes(&self) -> usize {
        if self.statements > 0 { self.text.len() } else { 0 }
    }
}

/// The Deny statement for `users`' sessions issued before `cut_off`, on the whole bucket.
fn statement(bucket: &BucketName, tag_key: &str, users: &[&UserId], cut_off: OffsetDateTime) -> Value {
    let ids: Vec<&str> = users.iter().map(|u| u.as_str()).collect();
    let sid = format!("{SHARED_REVOKE_SID}{}", cut_off.unix_timestamp());
    deny_sessions(&sid, bucket, tag_key, &json!(ids), cut_off)
}

fn is_ours(s: &Value) -> bool {
    s.get("Sid")
        .and_then(Value::as_str)
        .is_some_and(|sid| sid.starts_with(SHARED_REVOKE_SID))
}

/// How many of stsvend's revocation statements `policy` (a shared bucket's) holds, read as
/// the policy document it is: AWS returns policies reformatted.
pub fn revocation_statements(policy: Option<&str>) -> Result<usize, Error> {
    let (_, statements) = split_policy(policy)?;
    Ok(statements.iter().filter(|s| is_ours(s)).count())
}

/// `existing` (the bucket's policy, if any) with stsvend's statements replaced by those for
/// `alive` (the cut-offs not yet expired), within [`MAX_BUCKET_POLICY_BYTES`] bytes.
pub fn render_shared_policy(
    existing: Option<&str>,
    bucket: &BucketName,
    tag_key: &str,
    alive: &[PrefixRevocation],
) -> Result<SharedPolicy, Error> {
    render_within(existing, bucket, tag_key, alive, MAX_BUCKET_POLICY_BYTES)
}

fn render_within(
    existing: Option<&str>,
    bucket: &BucketName,
    tag_key: &str,
    alive: &[PrefixRevocation],
    limit: usize,
) -> Result<SharedPolicy, Error> {
    let (doc, mut kept) = split_policy(existing)?;
    kept.retain(|s| !is_ours(s));
    let mut groups: BTreeMap<OffsetDateTime, Vec<&PrefixRevocation>> = BTreeMap::new();
    for r in alive {
        groups.entry(r.cut_off).or_default().push(r);
    }
    let mut moved = Vec::new();
    loop {
        let mut statements = kept.clone();
        statements.extend(groups.iter().map(|(at, users)| {
            let ids: Vec<&UserId> = users.iter().map(|r| &r.user_id).collect();
            statement(bucket, tag_key, &ids, *at)
        }));
        let count = statements.len();
        let mut full = doc.clone();
        full["Statement"] = Value::Array(statements);
        let text = full.to_string();
        if text.len() <= limit {
            return Ok(SharedPolicy {
                text,
                statements: count,
                moved,
            });
        }
        // Too large: the oldest group of users given nothing since their cut-off joins the
        // next one, at its later cut-off.
        let cut_offs: Vec<OffsetDateTime> = groups.keys().copied().collect();
        let Some((from, to)) = cut_offs
            .windows(2)
            .find(|w| groups.get(&w[0]).is_some_and(|users| users.iter().all(|r| may_move(r))))
            .map(|w| (w[0], w[1]))
        else {
            return Err(Error::PolicyFull {
                users: alive.len(),
                bytes: text.len(),
            });
        };
        let users = groups.remove(&from).unwrap_or_default();
        moved.retain(|m: &PrefixRevocation| !users.iter().any(|u| u.user_id == m.user_id));
        moved.extend(users.iter().map(|u| PrefixRevocation {
            cut_off: to,
            ..(*u).clone()
        }));
        groups.entry(to).or_default().extend(users);
    }
}

/// True when moving `r`'s cut-off later denies no session they were given: nothing was handed
/// to them since it (with [`HAND_OUT_SLACK`] for the clocks).
fn may_move(r: &PrefixRevocation) -> bool {
    r.last_hand_out.is_none_or(|at| at + HAND_OUT_SLACK < r.cut_off)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::clock::format_time;

    fn bucket() -> BucketName {
        BucketName::parse("stsvend-shared").unwrap()
    }

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    fn rev(user: &str, secs: i64) -> PrefixRevocation {
        PrefixRevocation {
            user_id: UserId::derive("https://i/", user),
            cut_off: at(secs),
            last_hand_out: None,
        }
    }

    fn statements(text: &str) -> Vec<Value> {
        let doc: Value = serde_json::from_str(text).unwrap();
        doc["Statement"].as_array().unwrap().clone()
    }

    #[test]
    fn users_revoked_in_the_same_second_share_one_statement() {
        let alive = [rev("a", 0), rev("b", 0), rev("c", 5)];
        let p = render_shared_policy(None, &bucket(), "stsvend-user", &alive).unwrap();
        let list = statements(&p.text);
        assert_eq!(list.len(), 2);
        let tag = "aws:PrincipalTag/stsvend-user";
        assert_eq!(list[0]["Condition"]["StringEquals"][tag].as_array().unwrap().len(), 2);
        assert_eq!(
            list[0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            format_time(at(0))
        );
        assert_eq!(list[1]["Condition"]["StringEquals"][tag][0], alive[2].user_id.as_str());
        assert_eq!(list[1]["Resource"][1], "arn:aws:s3:::stsvend-shared/*");
        assert!(p.moved.is_empty());
    }

    #[test]
    fn revocation_statements_are_counted_however_the_policy_is_formatted() {
        let p = render_shared_policy(
            Some(r#"{"Statement": {"Sid": "Theirs"}}"#),
            &bucket(),
            "t",
            &[rev("a", 0), rev("b", 1)],
        )
        .unwrap();
        assert_eq!(revocation_statements(Some(&p.text)).unwrap(), 2);
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&p.text).unwrap()).unwrap();
        assert_eq!(revocation_statements(Some(&pretty)).unwrap(), 2);
        assert_eq!(revocation_statements(None).unwrap(), 0);
    }

    #[test]
    fn other_statements_are_kept_and_expired_ones_of_ours_dropped() {
        let existing = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "x"},
            {"Sid": "StsvendRevokeAt1700000000", "Effect": "Deny", "old": true},
        ]})
        .to_string();
        let p = render_shared_policy(Some(&existing), &bucket(), "t", &[rev("a", 1)]).unwrap();
        let list = statements(&p.text);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["Sid"], "TlsOnly");
        assert_eq!(list[1]["Sid"], format!("StsvendRevokeAt{}", at(1).unix_timestamp()));
        // Nothing alive: only theirs stays.
        let p = render_shared_policy(Some(&existing), &bucket(), "t", &[]).unwrap();
        assert_eq!(statements(&p.text).len(), 1);
        assert!(render_shared_policy(Some("nope"), &bucket(), "t", &[]).is_err());
    }

    #[test]
    fn when_full_the_oldest_cut_offs_move_to_the_next_and_are_reported() {
        let alive: Vec<_> = (0..6).map(|i| rev(&format!("u{i}"), i)).collect();
        let roomy = render_within(None, &bucket(), "t", &alive, usize::MAX).unwrap();
        assert_eq!(statements(&roomy.text).len(), 6);
        // Room for about four statements: the two oldest groups fold forward.
        let limit = roomy.text.len() * 4 / 6 + 100;
        let p = render_within(None, &bucket(), "t", &alive, limit).unwrap();
        assert!(p.text.len() <= limit);
        let list = statements(&p.text);
        assert_eq!(list.len(), 4, "{}", p.text);
        // Every user is still denied, none earlier than their own cut-off.
        for r in &alive {
            let s = list
                .iter()
                .find(|s| s.to_string().contains(r.user_id.as_str()))
                .expect("every user still has a statement");
            let cut: String =
                serde_json::from_value(s["Condition"]["DateLessThan"]["aws:TokenIssueTime"].clone()).unwrap();
            assert!(cut >= format_time(r.cut_off));
        }
        let mut moved: Vec<_> = p.moved.iter().map(|m| (m.user_id.clone(), m.cut_off)).collect();
        moved.sort();
        let mut want = vec![(alive[0].user_id.clone(), at(2)), (alive[1].user_id.clone(), at(2))];
        want.sort();
        assert_eq!(moved, want);
    }

    /// The cut-off of a user given keys (or a URL) after it is never moved to make room: that
    /// would deny the sessions they were given since. Only groups of users given nothing since
    /// their cut-off merge into a later one; with none left, the revoke is refused.
    #[test]
    fn a_merge_never_moves_the_cut_off_of_a_user_given_keys_since() {
        let mut alive: Vec<_> = (0..6).map(|i| rev(&format!("u{i}"), i)).collect();
        for r in &mut alive[..2] {
            r.last_hand_out = Some(at(30));
        }
        // Given keys long before their cut-off: nothing since.
        alive[2].last_hand_out = Some(at(-3600));
        let roomy = render_within(None, &bucket(), "t", &alive, usize::MAX).unwrap();
        let limit = roomy.text.len() * 4 / 6 + 100;
        let p = render_within(None, &bucket(), "t", &alive, limit).unwrap();
        assert!(p.text.len() <= limit);
        let list = statements(&p.text);
        assert_eq!(list.len(), 4, "{}", p.text);
        let cut_of = |r: &PrefixRevocation| -> String {
            let s = list
                .iter()
                .find(|s| s.to_string().contains(r.user_id.as_str()))
                .expect("every user still has a statement");
            serde_json::from_value(s["Condition"]["DateLessThan"]["aws:TokenIssueTime"].clone()).unwrap()
        };
        for r in &alive[..2] {
            assert_eq!(
                cut_of(r),
                format_time(r.cut_off),
                "a user given keys since kept their cut-off"
            );
        }
        for r in &alive[2..] {
            assert!(cut_of(r) >= format_time(r.cut_off));
        }
        let pinned = [&alive[0].user_id, &alive[1].user_id];
        assert!(p.moved.iter().all(|m| !pinned.contains(&&m.user_id)), "{:?}", p.moved);
        assert!(p.moved.iter().any(|m| m.user_id == alive[2].user_id), "{:?}", p.moved);

        let all_given_keys: Vec<_> = alive
            .iter()
            .cloned()
            .map(|mut r| {
                r.last_hand_out = Some(at(30));
                r
            })
            .collect();
        let err = render_within(None, &bucket(), "t", &all_given_keys, limit).unwrap_err();
        assert!(matches!(err, Error::PolicyFull { .. }), "{err}");
    }

    #[test]
    fn a_single_statement_too_large_is_refused() {
        let alive: Vec<_> = (0..50).map(|i| rev(&format!("u{i}"), 0)).collect();
        let err = render_within(None, &bucket(), "t", &alive, 500).unwrap_err();
        assert!(matches!(err, Error::PolicyFull { users: 50, .. }), "{err}");
    }

    /// The capacity the README states: users revoked each at a second of their own, and all in
    /// one second, within one session lifetime, in an otherwise empty policy.
    #[test]
    fn capacity_of_one_bucket_policy() {
        let fits = |n: usize, distinct: bool| {
            let alive: Vec<_> = (0..n)
                .map(|i| rev(&format!("u{i}"), if distinct { i64::try_from(i).unwrap() } else { 0 }))
                .collect();
            render_within(None, &bucket(), "stsvend-user", &alive, MAX_BUCKET_POLICY_BYTES)
                .is_ok_and(|p| p.moved.is_empty())
        };
        let most = |distinct| (1..5000).take_while(|n| fits(*n, distinct)).last().unwrap_or(0);
        let (separate, together) = (most(true), most(false));
        println!("capacity: {separate} revocations at distinct seconds, {together} users in one second");
        assert!(separate >= 40, "{separate}");
        assert!(together >= 500, "{together}");
    }
}
