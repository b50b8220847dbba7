//! `GET /openapi.json` against the real routes: every documented operation is served (and
//! answers with a status it documents), and no undocumented method is served on those paths.

use serde_json::Value;

use crate::support::admin::{admin_app, admin_token};
use crate::support::*;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn concrete(path: &str) -> String {
    path.replace("{user_id}", &"a".repeat(26))
        .replace("{access_key_id}", "ASIAEXAMPLE000000001")
}

#[tokio::test]
async fn the_document_matches_the_routes_the_server_serves() {
    let app = admin_app().await;
    let resp = app.http.get(format!("{}/openapi.json", app.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    // Clients need the vend's Prefix in both storage modes: the schema promises it.
    let vend = &doc["components"]["schemas"]["CredentialsResponse"];
    assert!(
        vend["required"]
            .as_array()
            .is_some_and(|r| r.contains(&Value::from("Prefix"))),
        "{vend}"
    );
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/v1/credentials",
        "/v1/credentials/container",
        "/v1/presign",
        "/v1/presign/post",
        "/admin/v1/users/{user_id}/revoke",
    ] {
        assert!(paths.contains_key(expected), "{expected} missing");
    }

    let admin = admin_token(&app);
    let user = app.issuer.token(&unique_sub("openapi"));
    let mut checked = 0;
    for (path, item) in paths {
        let url = format!("{}{}", app.base, concrete(path));
        let token = if path.starts_with("/admin/") { &admin } else { &user };
        for method in METHODS {
            let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let resp = app.http.request(m, &url).bearer_auth(token).send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            match item.get(method) {
                Some(op) => {
                    assert_ne!(status, 405, "{method} {path} is documented but not served");
                    assert!(
                        !(status == 404 && body["error"]["message"] == "no such route"),
                        "{method} {path} is documented but not routed"
                    );
                    let documented = op["responses"].as_object().unwrap();
                    assert!(
                        documented.contains_key(&status.to_string()),
                        "{method} {path} answered {status}, which it does not document: {body}"
                    );
                    checked += 1;
                }
                None => assert_eq!(status, 405, "{method} {path} is served but not documented"),
            }
        }
    }
    assert!(checked >= 15, "only {checked} operations checked");
}
