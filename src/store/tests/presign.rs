//! The presign audit, on every backend.

use super::add_user;
use crate::runtime::clock::now;
use crate::store::PresignRecord;
use crate::store::test_db::each_backend;

#[tokio::test]
async fn presign_rows_keep_the_key_and_method_and_are_listed_newest_first() {
    each_backend(|db| async move {
        let store = db.open().await;
        let id = add_user(&store, "auth0|presign").await;
        let other = add_user(&store, "auth0|someone-else").await;
        for (user, method, key, prefix) in [
            (&id, "GET", "a/b.txt", false),
            (&other, "PUT", "theirs", false),
            (&id, "POST", "uploads/", true),
        ] {
            store
                .record_presign(PresignRecord {
                    user_id: user.clone(),
                    access_key_id: "ASIAEXAMPLE".to_owned(),
                    template: "read-write".to_owned(),
                    method,
                    object_key: key.to_owned(),
                    key_is_prefix: prefix,
                    expires_at: now(),
                    client_addr: Some("127.0.0.1".to_owned()),
                    client_id: None,
                })
                .await
                .unwrap();
        }
        let rows = store.presigns_of(&id, 10).await.unwrap();
        let seen: Vec<_> = rows
            .iter()
            .map(|r| (r.method.as_str(), r.object_key.as_str(), r.key_is_prefix))
            .collect();
        assert_eq!(seen, [("POST", "uploads/", true), ("GET", "a/b.txt", false)]);
        assert_eq!(rows[1].access_key_id, "ASIAEXAMPLE");
        assert_eq!(store.presigns_of(&id, 1).await.unwrap().len(), 1);
    })
    .await;
}
