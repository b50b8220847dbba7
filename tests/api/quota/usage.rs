//! `GET /admin/v1/usage`: the owners storing the most bytes, from the usage ledger, largest
//! first, a page at a time; by kind.

use reqwest::Method;
use serde_json::Value;

use super::usage_support::*;
use crate::support::admin::{admin_call, admin_ok, admin_token, user_id_of};
use crate::support::*;

fn rows(page: &Value) -> Vec<(String, i64)> {
    page["largest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["bytes"].as_i64().unwrap()))
        .collect()
}

#[tokio::test]
async fn the_largest_users_come_first_a_page_at_a_time() {
    let app = quota_app(Mode::Bucket, Options::default(), None).await;
    let mut expected = Vec::new();
    for (name, size) in [("small", 100), ("large", 300), ("middle", 200)] {
        let sub = unique_sub(name);
        let v = app.vend(&sub, None).await;
        put_sized(&v, "k", size).await;
        let id = user_id_of(&app, &sub);
        admin_ok(&app, Method::POST, &format!("/users/{id}/usage/reconcile")).await;
        expected.push((id, i64::try_from(size).unwrap()));
    }
    expected.sort_by_key(|e| std::cmp::Reverse(e.1));

    let all = admin_ok(&app, Method::GET, "/usage?kind=user").await;
    assert_eq!(rows(&all), expected, "{all}");
    assert_eq!(all["largest"][0]["objects"].as_i64(), Some(1));
    assert!(all["largest"][0]["as_of"].is_string(), "{all}");
    assert!(all.get("next_after").is_none(), "{all}");

    let first = admin_ok(&app, Method::GET, "/usage?limit=2").await;
    assert_eq!(rows(&first), expected[..2], "users by default");
    let after = first["next_after"].as_str().expect("a next page");
    let second = admin_ok(&app, Method::GET, &format!("/usage?kind=user&limit=2&after={after}")).await;
    assert_eq!(rows(&second), expected[2..]);

    let orgs = admin_ok(&app, Method::GET, "/usage?kind=org").await;
    assert_eq!((orgs["kind"].as_str(), rows(&orgs)), (Some("org"), vec![]));
    for bad in ["/usage?kind=team", "/usage?after=nonsense", "/usage?search=x"] {
        let (status, body) = admin_call(&app, Method::GET, bad, &admin_token(&app)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_query")),
            "{bad}: {body}"
        );
    }
}
