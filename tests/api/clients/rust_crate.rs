//! The Rust crate `stsvend-credentials` (`clients/rust`) called directly, as an aws-sdk-rust
//! user would: the storage it names is the user's own, its keys work there, and refusals come
//! back typed with stsvend's code. (`sdk_example.rs` runs it inside a real upload.)

use aws_credential_types::provider::ProvideCredentials;
use stsvend_credentials::{Error, StsvendCredentials, TokenSource};

use crate::support::*;

#[tokio::test]
async fn the_rust_crate_names_the_users_storage_and_reports_refusals_by_their_code() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("crate");
    let stsvend = StsvendCredentials::builder(&app.base)
        .token(TokenSource::value(format!("Bearer {}", app.issuer.token(&sub))))
        .build()
        .unwrap();
    let storage = stsvend.storage().await.unwrap();
    let me = app.me(&sub).await;
    assert_eq!(storage.bucket, me["bucket"].as_str().unwrap());
    assert_eq!(storage.prefix, "");
    assert_eq!(storage.region, me["region"].as_str().unwrap());
    assert_eq!(
        storage.endpoint.as_deref(),
        Some(required_env("STSVEND_AWS__ENDPOINT_URL").as_str())
    );

    // The keys the SDK would get reach that bucket.
    let creds = stsvend.provide_credentials().await.unwrap();
    let s3 = user_s3(&Vended {
        access_key_id: creds.access_key_id().to_owned(),
        secret_access_key: creds.secret_access_key().to_owned(),
        session_token: creds.session_token().unwrap().to_owned(),
        ..app.vend(&sub, None).await
    });
    let put = s3
        .put_object()
        .bucket(&storage.bucket)
        .key(storage.key("crate.txt"))
        .body(b"from the crate".to_vec().into())
        .send()
        .await;
    assert_eq!(s3_code(&put), "ok");

    let refused = StsvendCredentials::builder(&app.base)
        .token(TokenSource::value("not.a.jwt"))
        .build()
        .unwrap();
    let e = refused.vend().await.unwrap_err();
    assert!(matches!(e, Error::Unauthorized(_)), "{e:?}");
    assert_eq!(e.code(), Some("invalid_token"));

    let unknown = StsvendCredentials::builder(&app.base)
        .token(TokenSource::value(app.issuer.token(&sub)))
        .access("no-such-template")
        .build()
        .unwrap();
    let e = unknown.vend().await.unwrap_err();
    assert!(matches!(e, Error::Rejected(_)), "{e:?}");
    assert_eq!((e.api().unwrap().status, e.code()), (400, Some("unknown_access")));
}
