//! Raw token text through the crate's real `Verifier` (header parsing, kid lookup, signature
//! and claim checks).
//!
//! Invariants:
//! - nothing panics, whatever the bytes, in the verifier or in the Authorization header
//!   parser (`stsvend::http::bearer_token`), which returns only the end of the header's value;
//! - a token is accepted only if its signature verifies, by an independent check, under the
//!   test key its `kid` names, with an algorithm the verifier is configured for;
//! - an accepted token carries exactly the configured `iss`, its user id is
//!   `UserId::derive(iss, sub)` of its own `sub`, and verifying it again gives the same id.
//!
//! Seeds (`fuzz/seeds/token_verify/`) include valid tokens signed with the fixture keys, so the
//! mutator starts from the accepting path.

#![no_main]

mod common;

use actix_web::http::header::{AUTHORIZATION, HeaderValue};
use actix_web::test::TestRequest;
use common::{ALGORITHMS, ISSUER, Issuer};
use libfuzzer_sys::fuzz_target;
use stsvend::identity::UserId;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let issuer = Issuer::get();

    // The header parser the verifier relies on must never panic either.
    let header = jsonwebtoken::decode_header(token);

    // The same bytes as an Authorization header: what the extractor takes out of it is the
    // end of the header's value, never anything else.
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let req = TestRequest::default()
            .insert_header((AUTHORIZATION, value))
            .to_http_request();
        if let Ok(t) = stsvend::http::bearer_token(&req) {
            assert!(!t.is_empty() && data.ends_with(t.as_bytes()), "bearer token {t:?} is not the header's end");
        }
    }

    let outcome = issuer.verify(token);
    if common::debug() {
        eprintln!("token_verify: {:?}", outcome.as_ref().map(|c| c.user_id.as_str()));
    }
    let Ok(caller) = outcome else {
        return;
    };

    let header = header.expect("an accepted token has a parseable header");
    assert!(ALGORITHMS.contains(&header.alg), "accepted alg {:?}", header.alg);
    let kid = header.kid.as_deref().expect("an accepted token has a kid");
    let key = issuer
        .public_key(kid)
        .unwrap_or_else(|| panic!("accepted a token whose kid {kid:?} names no test key"));
    let (message, signature) = token.rsplit_once('.').expect("three segments");
    assert!(
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, header.alg).unwrap_or(false),
        "accepted a token whose signature does not verify under the test key"
    );

    let payload = message
        .split_once('.')
        .and_then(|(_, p)| common::segment_json(p))
        .expect("an accepted token has a JSON payload");
    assert_eq!(payload["iss"], ISSUER);
    assert_eq!(payload["sub"], caller.subject.as_str());
    assert_eq!(caller.issuer, ISSUER);
    assert_eq!(caller.user_id, UserId::derive(ISSUER, &caller.subject));
    assert!(UserId::parse(caller.user_id.as_str()).is_ok());

    let again = issuer.verify(token).expect("an accepted token is accepted again");
    assert_eq!(again.user_id, caller.user_id, "user id is not stable");
});
