//! Deleting an organisation, in both storage modes: refused for storage with objects unless
//! forced; forced, the storage is emptied and removed (bucket mode: the bucket; prefix mode:
//! the prefix's objects), the mapping goes, old keys reach nothing of it, and a member's next
//! team vend makes the org anew with new storage.

use reqwest::Method;

use super::admin::{Mode, audited_on, org_admin_app, org_id_of};
use super::revoke::put_team;
use super::*;
use crate::support::admin::{admin_call, admin_token, put};

async fn deletes_an_org(mode: Mode) {
    let app = org_admin_app(mode).await;
    let org = new_org();
    let t = writer(&app, &unique_sub("alice"), &org);
    let old = vended(&app, &t, TEAM_RW).await;
    assert_eq!(put_team(&old, "keep.txt").await, "ok");
    let id = org_id_of(&app, &t).await;
    let token = admin_token(&app);

    let (status, body) = admin_call(&app, Method::DELETE, &format!("/orgs/{id}"), &token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("bucket_not_empty")),
        "{body}"
    );
    assert_eq!(put_team(&old, "still.txt").await, "ok", "nothing changed");

    let (status, body) = admin_call(&app, Method::DELETE, &format!("/orgs/{id}?force=true"), &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["org_id"].as_str(), body["objects_deleted"].as_u64()),
        (Some(id.as_str()), Some(2))
    );
    let old_bucket = old.org_bucket.clone().unwrap();
    match mode {
        Mode::Bucket => assert!(buckets_named(&old_bucket).await.is_empty(), "the org bucket is gone"),
        Mode::Prefix => assert_eq!(body["prefix"], format!("orgs/{id}/")),
    }
    let (status, _) = admin_call(&app, Method::GET, &format!("/orgs/{id}"), &token).await;
    assert_eq!(status, 404);
    assert_ne!(
        put_team(&old, "stale.txt").await,
        "ok",
        "old keys reach nothing of the old org"
    );
    assert_eq!(put(&old, "mine.txt").await, "ok", "the member's own storage stays");

    // The next team vend makes the org anew: a new id, new storage.
    let new = vended(&app, &t, TEAM_RW).await;
    let new_id = org_id_of(&app, &t).await;
    assert_ne!(new_id, id);
    match mode {
        Mode::Bucket => assert_ne!(new.org_bucket, old.org_bucket),
        Mode::Prefix => assert_ne!(new.org_prefix, old.org_prefix),
    }
    assert_eq!(put_team(&new, "fresh.txt").await, "ok");
    let actions: Vec<String> = audited_on(&app, &id)
        .await
        .into_iter()
        .map(|(a, o)| format!("{a}:{o}"))
        .collect();
    assert_eq!(
        actions,
        ["orgs.delete:refused", "orgs.delete_forced:ok", "orgs.show:refused"]
    );
}

#[tokio::test]
async fn deleting_an_org_in_bucket_mode_removes_its_bucket_and_the_next_team_vend_makes_a_new_one() {
    deletes_an_org(Mode::Bucket).await;
}

#[tokio::test]
async fn deleting_an_org_in_prefix_mode_empties_its_prefix_and_the_next_team_vend_makes_a_new_one() {
    deletes_an_org(Mode::Prefix).await;
}

/// A delete that AWS partly refuses answers 502 `delete_incomplete`; the org stays disabled
/// and revoked (its team templates refused meanwhile), and deleting again once the cause is
/// lifted completes.
#[tokio::test]
async fn a_partly_refused_org_delete_answers_502_and_deleting_again_completes() {
    let proxy = crate::support::fault_proxy::FaultProxy::start().await;
    let app = TestApp::spawn_with(with_orgs(
        Options::default()
            .set("STSVEND_ADMIN__PERMISSION", crate::support::admin::ADMIN_PERMISSION)
            .set("STSVEND_AWS__ENDPOINT_URL", &proxy.url),
    ))
    .await;
    let t = writer(&app, &unique_sub("alice"), &new_org());
    let v = vended(&app, &t, TEAM_RW).await;
    assert_eq!(put_team(&v, "a.txt").await, "ok");
    assert_eq!(put_team(&v, "b.txt").await, "ok");
    let id = org_id_of(&app, &t).await;
    let bucket = v.org_bucket.clone().unwrap();
    proxy.refuse_deleting_objects(&bucket, &["a.txt", "b.txt"], u32::MAX, "AccessDenied");
    let (token, path) = (admin_token(&app), format!("/orgs/{id}?force=true"));

    let (status, body) = admin_call(&app, Method::DELETE, &path, &token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("delete_incomplete")),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["objects_left"], 2, "{body}");
    let shown = crate::support::admin::admin_ok(&app, Method::GET, &format!("/orgs/{id}")).await;
    assert_eq!(shown["state"], "disabled", "{shown}");
    assert!(shown["sessions_revoked_before"].is_string(), "{shown}");
    assert_eq!(vend_as(&app, &t, TEAM_RW).await.1["error"]["code"], "org_disabled");

    proxy.stop_answering();
    let (status, body) = admin_call(&app, Method::DELETE, &path, &token).await;
    assert_eq!((status, body["objects_deleted"].as_u64()), (200, Some(2)), "{body}");
    assert!(buckets_named(&bucket).await.is_empty(), "the org bucket is gone");
    assert_ne!(vended(&app, &t, TEAM_RW).await.org_bucket, Some(bucket), "made anew");
}
