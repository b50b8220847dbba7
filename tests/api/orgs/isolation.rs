//! Org isolation against `MiniStack`, in both storage modes: a member of one organisation
//! reaches their own storage and their org's, and nothing of another org's or of an org
//! mate's own, for get, put, list, delete, multipart and copy-from; a `team-read` member
//! reads the org's storage and cannot write it; a token for another org gets keys for that
//! org alone.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::*;

/// Storage someone may or may not reach: a bucket and the key prefix inside it.
#[derive(Clone, Debug)]
struct Space {
    bucket: String,
    prefix: String,
}

impl Space {
    fn own(v: &Vended) -> Self {
        Self {
            bucket: v.bucket.clone(),
            prefix: v.prefix.clone(),
        }
    }

    fn org(v: &Vended) -> Self {
        Self {
            bucket: v.org_bucket.clone().expect("OrgBucket"),
            prefix: v.org_prefix.clone().expect("OrgPrefix"),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

async fn put(s3: &aws_sdk_s3::Client, at: &Space, name: &str) -> String {
    let r = s3
        .put_object()
        .bucket(&at.bucket)
        .key(at.key(name))
        .body(ByteStream::from_static(b"team data"))
        .send()
        .await;
    s3_code(&r)
}

/// A two-part multipart upload; the outcome of the first call that failed, or "ok".
async fn multipart(s3: &aws_sdk_s3::Client, at: &Space, name: &str) -> String {
    let key = at.key(name);
    let created = s3.create_multipart_upload().bucket(&at.bucket).key(&key).send().await;
    let Ok(created) = created else {
        return s3_code(&created);
    };
    let upload_id = created.upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    for (n, body) in [(1, vec![b'a'; 5 * 1024 * 1024]), (2, vec![b'b'; 1024])] {
        let part = s3
            .upload_part()
            .bucket(&at.bucket)
            .key(&key)
            .upload_id(&upload_id)
            .part_number(n)
            .body(ByteStream::from(body))
            .send()
            .await;
        match part {
            Ok(p) => parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .e_tag(p.e_tag().unwrap_or_default())
                    .build(),
            ),
            Err(_) => return s3_code(&part),
        }
    }
    let done = s3
        .complete_multipart_upload()
        .bucket(&at.bucket)
        .key(&key)
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await;
    s3_code(&done)
}

/// Every verb of the isolation cases against `target`, whose `secret.txt` exists; `home` is
/// where the caller may write (the copy's destination). Outcomes by verb.
async fn every_verb(s3: &aws_sdk_s3::Client, target: &Space, home: &Space) -> Vec<(&'static str, String)> {
    let get = s3
        .get_object()
        .bucket(&target.bucket)
        .key(target.key("secret.txt"))
        .send()
        .await;
    let list = s3
        .list_objects_v2()
        .bucket(&target.bucket)
        .prefix(&target.prefix)
        .send()
        .await;
    let copy = s3
        .copy_object()
        .bucket(&home.bucket)
        .key(home.key("copied.txt"))
        .copy_source(format!("{}/{}", target.bucket, target.key("secret.txt")))
        .send()
        .await;
    let delete = s3
        .delete_object()
        .bucket(&target.bucket)
        .key(target.key("secret.txt"))
        .send()
        .await;
    vec![
        ("get", s3_code(&get)),
        ("put", put(s3, target, "planted.txt").await),
        ("list", s3_code(&list)),
        ("multipart", multipart(s3, target, "big.bin").await),
        ("copy-from", s3_code(&copy)),
        ("delete", s3_code(&delete)),
    ]
}

fn assert_all(outcomes: &[(&str, String)], ok: bool, who: &str) {
    for (verb, outcome) in outcomes {
        assert_eq!(outcome == "ok", ok, "{who}: {verb} answered {outcome}");
    }
}

/// Two members of org A (alice writes, carol only reads) and one of org B (bob), all vended
/// the team templates.
async fn two_orgs(app: &TestApp) -> (Vended, Vended, Vended, Vended) {
    let (a, b) = (new_org(), new_org());
    let alice = vended(app, &writer(app, &unique_sub("alice"), &a), TEAM_RW).await;
    let dave = vended(app, &writer(app, &unique_sub("dave"), &a), TEAM_RW).await;
    let carol = vended(app, &reader(app, &unique_sub("carol"), &a), TEAM_READ).await;
    let bob = vended(app, &writer(app, &unique_sub("bob"), &b), TEAM_RW).await;
    (alice, dave, carol, bob)
}

async fn members_reach_their_org_and_no_other(app: &TestApp) {
    let (alice, dave, carol, bob) = two_orgs(app).await;
    assert_eq!(
        (alice.org_bucket.as_ref(), alice.org_prefix.as_ref()),
        (dave.org_bucket.as_ref(), dave.org_prefix.as_ref())
    );
    assert_ne!(
        (alice.org_bucket.as_ref(), alice.org_prefix.as_ref()),
        (bob.org_bucket.as_ref(), bob.org_prefix.as_ref())
    );
    let (a_s3, b_s3, c_s3, d_s3) = (user_s3(&alice), user_s3(&bob), user_s3(&carol), user_s3(&dave));
    let (org_a, org_b) = (Space::org(&alice), Space::org(&bob));

    // The control: everything works on one's own org storage and own storage.
    assert_eq!(put(&a_s3, &org_a, "secret.txt").await, "ok");
    assert_all(
        &every_verb(&a_s3, &org_a, &Space::own(&alice)).await,
        true,
        "alice on org A",
    );
    assert_eq!(put(&d_s3, &Space::own(&dave), "secret.txt").await, "ok");
    assert_all(
        &every_verb(&d_s3, &Space::own(&dave), &Space::own(&dave)).await,
        true,
        "dave on his own",
    );

    // Org B's storage: every verb refused to a member of A, and the object is intact.
    assert_eq!(put(&b_s3, &org_b, "secret.txt").await, "ok");
    assert_all(
        &every_verb(&a_s3, &org_b, &Space::own(&alice)).await,
        false,
        "alice on org B",
    );
    assert_all(
        &every_verb(&b_s3, &org_a, &Space::own(&bob)).await,
        false,
        "bob on org A",
    );
    assert_eq!(
        s3_code(
            &b_s3
                .get_object()
                .bucket(&org_b.bucket)
                .key(org_b.key("secret.txt"))
                .send()
                .await
        ),
        "ok",
        "org B's object survived"
    );

    // Org mates: dave's own storage is his alone.
    assert_eq!(put(&d_s3, &Space::own(&dave), "secret.txt").await, "ok");
    assert_all(
        &every_verb(&a_s3, &Space::own(&dave), &Space::own(&alice)).await,
        false,
        "alice on dave's own",
    );

    // team-read: carol reads and lists org A, and cannot write, delete or upload there.
    assert_eq!(put(&a_s3, &org_a, "secret.txt").await, "ok");
    let get = c_s3
        .get_object()
        .bucket(&org_a.bucket)
        .key(org_a.key("secret.txt"))
        .send()
        .await;
    assert_eq!(s3_code(&get), "ok", "carol reads org A");
    let list = c_s3
        .list_objects_v2()
        .bucket(&org_a.bucket)
        .prefix(&org_a.prefix)
        .send()
        .await;
    assert_eq!(s3_code(&list), "ok", "carol lists org A");
    assert_ne!(put(&c_s3, &org_a, "planted.txt").await, "ok", "carol puts into org A");
    assert_ne!(
        multipart(&c_s3, &org_a, "big.bin").await,
        "ok",
        "carol uploads into org A"
    );
    let copy_in = c_s3
        .copy_object()
        .bucket(&org_a.bucket)
        .key(org_a.key("copy.txt"))
        .copy_source(format!("{}/{}", org_a.bucket, org_a.key("secret.txt")))
        .send()
        .await;
    assert_ne!(s3_code(&copy_in), "ok", "carol copies into org A");
    let delete = c_s3
        .delete_object()
        .bucket(&org_a.bucket)
        .key(org_a.key("secret.txt"))
        .send()
        .await;
    assert_ne!(s3_code(&delete), "ok", "carol deletes from org A");
    assert_eq!(
        put(&c_s3, &Space::own(&carol), "mine.txt").await,
        "ok",
        "carol writes her own"
    );
}

#[tokio::test]
async fn bucket_mode_a_member_reaches_their_org_and_nothing_of_another_org_or_an_org_mate() {
    let app = TestApp::spawn_with(with_orgs(Options::default())).await;
    members_reach_their_org_and_no_other(&app).await;
}

#[tokio::test]
async fn prefix_mode_a_member_reaches_their_org_and_nothing_of_another_org_or_an_org_mate() {
    let (app, _) = TestApp::spawn_prefix(with_orgs(Options::default())).await;
    members_reach_their_org_and_no_other(&app).await;
}

/// A token naming org B gets keys for B alone: nothing cached or shared for A is handed to it,
/// and the new keys are refused on A's storage.
async fn switching_orgs_ends_access_to_the_first_from_that_vend_on(app: &TestApp) {
    let sub = unique_sub("mover");
    let (a, b) = (new_org(), new_org());
    let in_a = vended(app, &writer(app, &sub, &a), TEAM_RW).await;
    let org_a = Space::org(&in_a);
    assert_eq!(put(&user_s3(&in_a), &org_a, "secret.txt").await, "ok");

    let in_b = vended(app, &writer(app, &sub, &b), TEAM_RW).await;
    assert_ne!(in_b.access_key_id, in_a.access_key_id, "a session made for org A");
    assert_ne!(
        (in_b.org_bucket.as_ref(), in_b.org_prefix.as_ref()),
        (in_a.org_bucket.as_ref(), in_a.org_prefix.as_ref())
    );
    let b_s3 = user_s3(&in_b);
    assert_all(
        &every_verb(&b_s3, &org_a, &Space::own(&in_b)).await,
        false,
        "org-B keys on org A",
    );
    assert_eq!(
        put(&b_s3, &Space::org(&in_b), "mine.txt").await,
        "ok",
        "org-B keys on org B"
    );
    // Their own storage is the same person's whichever org they sign in through.
    assert_eq!(
        (in_b.bucket.as_str(), in_b.prefix.as_str()),
        (in_a.bucket.as_str(), in_a.prefix.as_str())
    );

    // Back in org A: the keys are org A's again, never org B's.
    let again = vended(app, &writer(app, &sub, &a), TEAM_RW).await;
    assert_ne!(again.access_key_id, in_b.access_key_id);
    assert_eq!(
        (again.org_bucket.as_ref(), again.org_prefix.as_ref()),
        (in_a.org_bucket.as_ref(), in_a.org_prefix.as_ref())
    );
}

#[tokio::test]
async fn bucket_mode_a_token_for_another_org_gets_no_access_to_the_first() {
    let app = TestApp::spawn_with(with_orgs(Options::default())).await;
    switching_orgs_ends_access_to_the_first_from_that_vend_on(&app).await;
}

#[tokio::test]
async fn prefix_mode_a_token_for_another_org_gets_no_access_to_the_first() {
    let (app, _) = TestApp::spawn_prefix(with_orgs(Options::default())).await;
    switching_orgs_ends_access_to_the_first_from_that_vend_on(&app).await;
}
