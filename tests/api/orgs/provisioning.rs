//! An organisation's first vend has a user's first-login guarantees: rate-limited, resumed
//! after a crash, and its sessions tagged with the org's internal id.

use aws_sdk_s3::primitives::ByteStream;
use serde_json::json;
use stsvend::identity::{BucketName, OrgClaim, OrgId};
use stsvend::store::NewOrg;

use super::*;

/// A new organisation counts against `limits.new_users_per_minute` as a new user does: beyond
/// it 429 `provisioning_rate_limited`, no org row, and the orgs already made keep working.
#[tokio::test]
async fn a_new_org_beyond_the_new_user_rate_gets_429_and_nothing_is_made() {
    let app = TestApp::spawn_with(with_orgs(
        Options::default().set("STSVEND_LIMITS__NEW_USERS_PER_MINUTE", "2"),
    ))
    .await;
    let sub = unique_sub("founder");
    let (first, second) = (new_org(), new_org());
    // Alice's first login and her first org: the two new owners the minute allows.
    vended(&app, &writer(&app, &sub, &first), TEAM_RW).await;
    let (status, body) = vend_as(&app, &writer(&app, &sub, &second), TEAM_RW).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("provisioning_rate_limited")),
        "{body}"
    );
    assert_eq!(
        app.state.store.count_orgs().await.unwrap(),
        1,
        "no row for the refused org"
    );
    vended(&app, &writer(&app, &sub, &first), TEAM_RW).await;
}

/// An org whose first vend was cut off right after `CreateBucket`: its pending row and a bare
/// bucket. Its claim value, parsed claim, id and bucket.
async fn org_cut_off_after_create_bucket(app: &TestApp) -> (String, OrgClaim, OrgId, BucketName) {
    let org = new_org();
    let (id, bucket) = (OrgId::fresh().unwrap(), BucketName::fresh("stsvend").unwrap());
    let claim = OrgClaim::parse(&org, |_| true).unwrap();
    app.state
        .store
        .insert_org(&NewOrg {
            org_id: &id,
            issuer: &app.issuer.issuer,
            claim: &claim,
            bucket: &bucket,
            region: "us-east-1",
            prefix: None,
        })
        .await
        .unwrap();
    create_bare_bucket(bucket.as_str()).await;
    (org, claim, id, bucket)
}

/// A crash right after `CreateBucket` leaves a pending org row and a bare bucket: the next
/// member's vend finishes that bucket (settings, owner tag) instead of making another.
#[tokio::test]
async fn an_org_provisioning_cut_off_after_create_bucket_is_finished_by_the_next_vend() {
    let app = TestApp::spawn_with(with_orgs(Options::default())).await;
    let (org, claim, id, bucket) = org_cut_off_after_create_bucket(&app).await;

    let team = vended(&app, &writer(&app, &unique_sub("member"), &org), TEAM_RW).await;
    assert_eq!(
        team.org_bucket.as_deref(),
        Some(bucket.as_str()),
        "the recorded bucket, finished"
    );
    let row = app
        .state
        .store
        .org_by_claim(&app.issuer.issuer, &claim)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.org_id, row.state), (id, stsvend::store::ProvisionState::Ready));
    assert_eq!(
        owner_tag(bucket.as_str()).await.as_deref(),
        Some(id.as_str()),
        "owner tag set on resume"
    );
    assert!(
        service_s3()
            .get_public_access_block()
            .bucket(bucket.as_str())
            .send()
            .await
            .is_ok()
    );
    assert_eq!(app.state.store.count_orgs().await.unwrap(), 1);
}

/// An org an operator disabled while its first vend was cut off after `CreateBucket` stays as
/// it is: a member's team vend is refused with 403 `org_disabled` and finishes nothing (the
/// bucket gets no settings, the row stays pending), as a disabled user's unfinished first login
/// stays unfinished.
#[tokio::test]
async fn a_disabled_orgs_unfinished_storage_is_not_finished_by_a_members_vend() {
    let app = TestApp::spawn_with(with_orgs(Options::default())).await;
    let (org, _claim, id, bucket) = org_cut_off_after_create_bucket(&app).await;
    assert!(app.state.store.set_org_disabled(&id, true).await.unwrap());

    let (status, body) = vend_as(&app, &writer(&app, &unique_sub("member"), &org), TEAM_RW).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("org_disabled")),
        "{body}"
    );
    let row = app.state.store.org(&id).await.unwrap().unwrap();
    assert_eq!(
        row.state,
        stsvend::store::ProvisionState::Pending,
        "the row stays pending"
    );
    // The owner tag is one of the settings a finished first vend applies (MiniStack answers a
    // default public access block for any bucket, so that one cannot tell).
    assert_eq!(
        owner_tag(bucket.as_str()).await,
        None,
        "no setting applied: no owner tag"
    );
}

/// Team sessions carry the org's internal id as the `stsvend-org` session tag (personal ones
/// do not): a bucket policy denying that tag refuses the member's team keys on their own bucket
/// and leaves their personal keys working.
#[tokio::test]
async fn team_sessions_carry_the_org_id_as_the_stsvend_org_tag_and_personal_ones_do_not() {
    let app = TestApp::spawn_with(with_orgs(Options::default())).await;
    let t = writer(&app, &unique_sub("tagged"), &new_org());
    let team = vended(&app, &t, TEAM_RW).await;
    let personal = vended(&app, &t, "read-write").await;
    let org_id = app.me_with(&t).await["org"]["org_id"].as_str().unwrap().to_owned();
    let arn = format!("arn:aws:s3:::{}", team.bucket);
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyOrgSessions",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": {"StringEquals": {"aws:PrincipalTag/stsvend-org": org_id}}
        }]
    });
    service_s3()
        .put_bucket_policy()
        .bucket(&team.bucket)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    let put = |v: &Vended| {
        let s3 = user_s3(v);
        let bucket = v.bucket.clone();
        async move {
            s3_code(
                &s3.put_object()
                    .bucket(bucket)
                    .key("tagged.txt")
                    .body(ByteStream::from_static(b"x"))
                    .send()
                    .await,
            )
        }
    };
    assert_eq!(put(&team).await, "AccessDenied", "the team session carries the org tag");
    assert_eq!(put(&personal).await, "ok", "the personal session does not");
}
