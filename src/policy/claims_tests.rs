//! `{{claims.NAME}}` in templates: declared or refused, substituted into parsed strings only,
//! and bounded at load with each claim's longest value.

use std::path::Path;

use serde_json::Value;

use super::*;
use crate::identity::{AccountId, BucketName, ClaimValue, UserId};

fn parse(text: &str, declared: &[(&str, usize)]) -> Result<Template, String> {
    Template::parse_with(Path::new("t.json"), text, &DeclaredClaims::from_lengths(declared))
}

fn render(t: &Template, claims: &[(Box<str>, ClaimValue)]) -> Value {
    let (user, bucket) = (UserId::derive("i", "s"), BucketName::parse("stsvend-a").unwrap());
    let account = AccountId::parse("123456789012").unwrap();
    let text = t.render(&RenderContext {
        bucket: &bucket,
        user_id: &user,
        account_id: &account,
        prefix: None,
        org: None,
        claims,
    });
    serde_json::from_str(&text).unwrap()
}

fn value(v: &str) -> ClaimValue {
    ClaimValue::parse(v, 64, |_| true).unwrap()
}

const TIERED: &str = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{{bucket}}/{{claims.tier}}/*","Condition":{"StringEquals":{"s3:prefix":["{{claims.tier}}"]}}}]}"#;

#[test]
fn a_declared_claim_is_substituted_inside_strings_and_named_by_the_template() {
    let t = parse(TIERED, &[("tier", 4)]).unwrap();
    assert_eq!(t.claims(), [Box::from("tier")]);
    let doc = render(&t, &[("tier".into(), value("pro"))]);
    assert_eq!(doc["Statement"][0]["Resource"], "arn:aws:s3:::stsvend-a/pro/*");
    assert_eq!(doc["Statement"][0]["Condition"]["StringEquals"]["s3:prefix"][0], "pro");
    let plain = parse(
        r#"{"Statement":[{"Resource":"arn:aws:s3:::{{bucket}}/*"}]}"#,
        &[("tier", 4)],
    )
    .unwrap();
    assert!(plain.claims().is_empty());
}

#[test]
fn an_undeclared_claim_is_refused_even_spelt_with_escapes() {
    let err = parse(TIERED, &[]).unwrap_err();
    assert!(
        err.contains("`{{claims.tier}}` names a claim not declared in [policies.claims]"),
        "{err}"
    );
    let escaped = r#"{"Statement":[{"Resource":"arn:aws:s3:::{{bucket}}/\u007b\u007bclaims.x}}/*"}]}"#;
    assert!(parse(escaped, &[("tier", 4)]).unwrap_err().contains("`{{claims.x}}`"));
    let in_key = r#"{"Statement":[{"Condition":{"StringEquals":{"{{claims.tier}}":"x"}}}]}"#;
    assert!(
        parse(in_key, &[("tier", 4)])
            .unwrap_err()
            .contains("placeholder in key")
    );
}

#[test]
fn the_size_bound_uses_each_claims_longest_value() {
    // About 1900 characters with the value left out: room for a short claim, not a long one.
    let padding = "x".repeat(1700);
    let text = format!(
        r#"{{"Statement":[{{"Sid":"{padding}","Resource":"arn:aws:s3:::{{{{bucket}}}}/{{{{claims.team}}}}/*"}}]}}"#
    );
    assert!(parse(&text, &[("team", 16)]).is_ok());
    let err = parse(&text, &[("team", 256)]).unwrap_err();
    assert!(err.contains("STS allows at most 2048"), "{err}");
}

#[test]
fn a_set_refuses_a_template_naming_a_claim_the_config_does_not_declare() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiered.json"), TIERED).unwrap();
    let errs = PolicySet::load(dir.path(), &[]).unwrap_err();
    assert!(
        errs[0]
            .to_string()
            .contains("tiered.json: `{{claims.tier}}` names a claim not declared"),
        "{}",
        errs[0]
    );
    let set = PolicySet::load_with(dir.path(), &[], DeclaredClaims::from_lengths(&[("tier", 4)])).unwrap();
    let trial = set.trial_claims();
    assert_eq!(trial.len(), 1);
    assert_eq!(
        trial[0].1.as_str().len(),
        4,
        "the trial value is the longest the claim admits"
    );
}

#[test]
fn trial_values_are_as_long_as_allowed_and_not_a_run_of_one_letter() {
    let v = longest_claim_value(256).unwrap();
    assert_eq!(v.as_str().len(), 256);
    assert!(v.as_str().chars().collect::<std::collections::BTreeSet<_>>().len() > 30);
    assert!(longest_claim_value(0).is_none());
    assert!(longest_claim_value(257).is_none());
}
