use serde_json::{Value, json};
use time::OffsetDateTime;

use super::*;
use crate::aws::s3::{OrgRevocations, merge_policy, render_org_policy, render_shared_policy, revocation_statement};
use crate::identity::{OrgId, PrefixRevocation, UserId};

fn shared() -> BucketName {
    BucketName::parse("stsvend-shared").unwrap()
}

fn user(n: usize) -> Owner {
    Owner::User(UserId::derive("https://i/", &format!("u{n}")))
}

fn org() -> Owner {
    Owner::Org(OrgId::fresh().unwrap())
}

fn statements(text: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(text).unwrap()["Statement"]
        .as_array()
        .unwrap()
        .clone()
}

fn sids(text: &str) -> Vec<String> {
    statements(text)
        .iter()
        .map(|s| s["Sid"].as_str().unwrap_or_default().to_owned())
        .collect()
}

const USER_TAG: &str = "aws:PrincipalTag/stsvend-user";
const ORG_TAG: &str = "aws:PrincipalTag/stsvend-org";

#[test]
fn an_owners_own_bucket_denies_puts_by_their_tag_on_the_whole_bucket() {
    let bucket = BucketName::parse("stsvend-own").unwrap();
    let (a, o) = (user(1), org());
    let p = render_quota_policy(None, &bucket, "stsvend-user", &[QuotaOwner { owner: &a, root: "" }]).unwrap();
    let list = statements(&p.policy.text);
    assert_eq!(list.len(), 1);
    let s = &list[0];
    assert_eq!(s["Sid"], "StsvendQuotaUsers");
    assert_eq!((&s["Effect"], &s["Principal"]), (&json!("Deny"), &json!("*")));
    assert_eq!(s["Action"], json!(["s3:PutObject"]));
    assert_eq!(s["Resource"], "arn:aws:s3:::stsvend-own/*");
    assert_eq!(s["Condition"]["StringEquals"][USER_TAG], json!([a.id()]));
    assert!(
        s["Condition"].get("DateLessThan").is_none(),
        "every session, old or new"
    );
    assert_eq!((p.denied, p.changed, p.policy.statements), (1, true, 1));

    let p = render_quota_policy(None, &bucket, "stsvend-user", &[QuotaOwner { owner: &o, root: "" }]).unwrap();
    let s = &statements(&p.policy.text)[0];
    assert_eq!(s["Sid"], "StsvendQuotaOrgs");
    assert_eq!(s["Condition"]["StringEquals"][ORG_TAG], json!([o.id()]));
    assert_eq!(s["Resource"], "arn:aws:s3:::stsvend-own/*");
}

/// In a shared bucket one statement lists every user over, on the users' root only, and one
/// every org, on the orgs' root only: a member over their limit still writes to the org's
/// prefix (their sessions' user tag is not denied there), and an org over its limit leaves
/// its members' own prefixes writable (the org tag is denied under `orgs/` only).
#[test]
fn a_shared_bucket_gets_one_statement_for_users_and_one_for_orgs_each_on_its_own_root() {
    let users: Vec<Owner> = (0..5).map(user).collect();
    let orgs = [org(), org()];
    let mut over: Vec<QuotaOwner<'_>> = users.iter().map(|owner| QuotaOwner { owner, root: "users/" }).collect();
    over.extend(orgs.iter().map(|owner| QuotaOwner { owner, root: "orgs/" }));
    let p = render_quota_policy(None, &shared(), "stsvend-user", &over).unwrap();
    let list = statements(&p.policy.text);
    assert_eq!(sids(&p.policy.text), ["StsvendQuotaUsers", "StsvendQuotaOrgs"]);
    assert_eq!(list[0]["Resource"], "arn:aws:s3:::stsvend-shared/users/*");
    assert_eq!(list[1]["Resource"], "arn:aws:s3:::stsvend-shared/orgs/*");
    let mut ids: Vec<&str> = users.iter().map(Owner::id).collect();
    ids.sort_unstable();
    assert_eq!(list[0]["Condition"]["StringEquals"][USER_TAG], json!(ids));
    assert!(list[0]["Condition"]["StringEquals"].get(ORG_TAG).is_none());
    assert_eq!(
        list[1]["Condition"]["StringEquals"][ORG_TAG].as_array().unwrap().len(),
        2
    );
    assert!(list[1]["Condition"]["StringEquals"].get(USER_TAG).is_none());
    assert_eq!(p.denied, 7);
    let mut all: Vec<String> = users.iter().chain(&orgs).map(|o| o.id().to_owned()).collect();
    all.sort_unstable();
    assert_eq!(quota_denied_ids(Some(&p.policy.text)).unwrap(), all);
}

#[test]
fn other_statements_are_kept_and_the_old_quota_statements_replaced_or_removed() {
    let (a, b) = (user(1), user(2));
    let existing = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "x"},
        {"Sid": "StsvendRevokeAt1800000000", "Effect": "Deny"},
        {"Sid": "StsvendQuotaUsers", "Effect": "Deny", "stale": true},
        {"Sid": "StsvendQuotaOrgs", "Effect": "Deny", "stale": true},
    ]})
    .to_string();
    let over = [
        QuotaOwner {
            owner: &b,
            root: "users/",
        },
        QuotaOwner {
            owner: &a,
            root: "users/",
        },
    ];
    let p = render_quota_policy(Some(&existing), &shared(), "stsvend-user", &over).unwrap();
    assert_eq!(
        sids(&p.policy.text),
        ["TlsOnly", "StsvendRevokeAt1800000000", "StsvendQuotaUsers"]
    );
    assert!(!p.policy.text.contains("stale"));
    // Nobody over: only the others stay; with none at all the policy is to be deleted.
    let p = render_quota_policy(Some(&existing), &shared(), "stsvend-user", &[]).unwrap();
    assert_eq!(sids(&p.policy.text), ["TlsOnly", "StsvendRevokeAt1800000000"]);
    assert!(p.changed);
    let only_ours = json!({"Statement": [{"Sid": "StsvendQuotaUsers"}]}).to_string();
    let p = render_quota_policy(Some(&only_ours), &shared(), "stsvend-user", &[]).unwrap();
    assert_eq!((p.policy.statements, p.policy.bytes()), (0, 0));
    assert!(render_quota_policy(Some("nope"), &shared(), "t", &[]).is_err());
}

/// A sync that finds the statements it would write already there writes nothing, however AWS
/// reformatted the policy (it turns one-element lists into strings, `*` into `{"AWS": "*"}`).
#[test]
fn the_same_owners_again_is_no_change_even_as_aws_returns_the_policy() {
    let (a, b) = (user(1), org());
    let over = [
        QuotaOwner {
            owner: &a,
            root: "users/",
        },
        QuotaOwner {
            owner: &b,
            root: "orgs/",
        },
    ];
    let first = render_quota_policy(None, &shared(), "stsvend-user", &over).unwrap();
    let again = render_quota_policy(Some(&first.policy.text), &shared(), "stsvend-user", &over).unwrap();
    assert!(!again.changed);
    let mut aws: Value = serde_json::from_str(&first.policy.text).unwrap();
    for s in aws["Statement"].as_array_mut().unwrap() {
        s["Principal"] = json!({"AWS": "*"});
        s["Action"] = json!("s3:PutObject");
        for v in s["Condition"]["StringEquals"].as_object_mut().unwrap().values_mut() {
            *v = v[0].clone();
        }
    }
    let pretty = serde_json::to_string_pretty(&aws).unwrap();
    let again = render_quota_policy(Some(&pretty), &shared(), "stsvend-user", &over).unwrap();
    assert!(!again.changed, "{pretty}");
    let fewer = render_quota_policy(Some(&pretty), &shared(), "stsvend-user", &over[..1]).unwrap();
    assert!(fewer.changed);
}

/// Every revocation writer keeps the quota statements, and the quota writer theirs.
#[test]
fn revocation_writers_keep_the_quota_statements() {
    let a = user(1);
    let id = UserId::derive("https://i/", "u1");
    let with_quota = render_quota_policy(
        None,
        &shared(),
        "stsvend-user",
        &[QuotaOwner {
            owner: &a,
            root: "users/",
        }],
    )
    .unwrap()
    .policy
    .text;
    let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();

    let rev = PrefixRevocation {
        user_id: id.clone(),
        cut_off: at,
        last_hand_out: None,
    };
    let shared_revoked = render_shared_policy(Some(&with_quota), &shared(), "stsvend-user", &[rev]).unwrap();
    assert_eq!(
        sids(&shared_revoked.text),
        ["StsvendQuotaUsers", &format!("StsvendRevokeAt{}", at.unix_timestamp())]
    );

    let org_id = OrgId::fresh().unwrap();
    let prefix = format!("orgs/{org_id}/");
    let org_revoked = render_org_policy(
        Some(&shared_revoked.text),
        &shared(),
        &OrgRevocations {
            org_id: &org_id,
            prefix: Some(&prefix),
            user_tag_key: "stsvend-user",
            all_before: Some(at),
            members: &[],
        },
    )
    .unwrap();
    assert_eq!(sids(&org_revoked.text)[0], "StsvendQuotaUsers");
    assert_eq!(sids(&org_revoked.text).len(), 4);

    let own = BucketName::parse("stsvend-own").unwrap();
    let merged = merge_policy(Some(&with_quota), revocation_statement(&own, "stsvend-user", &id, at)).unwrap();
    assert_eq!(sids(&merged), ["StsvendQuotaUsers", "StsvendRevokeSessions"]);

    // And the quota writer keeps all of theirs when the owner is no longer over.
    let cleared = render_quota_policy(Some(&org_revoked.text), &shared(), "stsvend-user", &[]).unwrap();
    assert_eq!(sids(&cleared.policy.text).len(), 3);
    assert!(sids(&cleared.policy.text).iter().all(|s| !s.starts_with(QUOTA_SID)));
}

/// Owners past the quota statements' share of the policy are left out, the last given first.
#[test]
fn owners_past_the_quota_share_are_left_out_in_the_order_given() {
    let users: Vec<Owner> = (0..40).map(user).collect();
    let over: Vec<QuotaOwner<'_>> = users.iter().map(|owner| QuotaOwner { owner, root: "users/" }).collect();
    let roomy = render_within(None, &shared(), "stsvend-user", &over, usize::MAX).unwrap();
    assert_eq!(roomy.denied, 40);
    let p = render_within(None, &shared(), "stsvend-user", &over, roomy.policy.text.len() / 2).unwrap();
    assert!(p.denied > 10 && p.denied < 30, "{}", p.denied);
    let mut want: Vec<String> = users[..p.denied].iter().map(|o| o.id().to_owned()).collect();
    want.sort_unstable();
    assert_eq!(quota_denied_ids(Some(&p.policy.text)).unwrap(), want);
}

/// The most owners that fit in a shared bucket's policy with `roots` (users, orgs, or half of
/// each), and how many revocations still fit beside a full quota share.
fn capacity(orgs_every: usize) -> (usize, String) {
    let owners: Vec<Owner> = (0..2000)
        .map(|n| {
            if orgs_every > 0 && n % orgs_every == 0 {
                org()
            } else {
                user(n)
            }
        })
        .collect();
    let over: Vec<QuotaOwner<'_>> = owners
        .iter()
        .map(|owner| QuotaOwner {
            owner,
            root: if matches!(owner, Owner::Org(_)) {
                "orgs/"
            } else {
                "users/"
            },
        })
        .collect();
    let p = render_quota_policy(None, &shared(), "stsvend-user", &over).unwrap();
    (p.denied, p.policy.text)
}

/// The capacity the README states, computed: owners one shared bucket's policy denies (ids
/// are 26 characters for users, 27 for orgs), and the revocations that still fit beside them.
#[test]
fn capacity_of_the_quota_statements_is_what_the_readme_says() {
    let (users, full) = capacity(0);
    let (mixed, _) = capacity(2);
    let at = |s: i64| OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap();
    let fits = |n: usize| {
        let alive: Vec<PrefixRevocation> = (0..n)
            .map(|i| PrefixRevocation {
                user_id: UserId::derive("https://r/", &format!("r{i}")),
                cut_off: at(i64::try_from(i).unwrap()),
                last_hand_out: Some(at(100_000)),
            })
            .collect();
        render_shared_policy(Some(&full), &shared(), "stsvend-user", &alive).is_ok()
    };
    let revocations = (1..500).take_while(|n| fits(*n)).last().unwrap_or(0);
    println!("quota capacity: {users} users, {mixed} users and orgs half each; {revocations} revocations beside");
    assert!(users >= 200, "{users}");
    let readme = include_str!("../../../README.md");
    for figure in [
        format!("{users} users"),
        format!("{mixed} owners"),
        format!("{revocations} revocations"),
    ] {
        assert!(readme.contains(&figure), "README.md should state `{figure}` (Quotas)");
    }
}
