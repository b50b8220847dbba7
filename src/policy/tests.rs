use super::*;

fn parse(text: &str) -> Result<Template, String> {
    Template::parse(Path::new("t.json"), text)
}

#[test]
fn substitutes_inside_strings_only() {
    let t = parse(r#"{"Statement":[{"Resource":"arn:aws:s3:::{{bucket}}/{{user_id}}/*","N":1}]}"#).unwrap();
    let id = UserId::derive("i", "s");
    let b = BucketName::fresh("p").unwrap();
    let out = t.render(&RenderContext {
        bucket: &b,
        user_id: &id,
        account_id: &AccountId::parse("123456789012").unwrap(),
        prefix: None,
    });
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Statement"][0]["Resource"], format!("arn:aws:s3:::{b}/{id}/*"));
    assert_eq!(v["Statement"][0]["N"], 1);
}

#[test]
fn placeholder_outside_a_string_is_refused() {
    let err = parse(r#"{"Statement":[{"Resource": {{bucket}} }]}"#).unwrap_err();
    assert!(err.contains("not valid JSON"), "{err}");
}

#[test]
fn unknown_or_unclosed_placeholders_are_refused() {
    assert!(
        parse(r#"{"Statement":[{"R":"{{sub}}"}]}"#)
            .unwrap_err()
            .contains("unknown placeholder `{{sub}}`")
    );
    assert!(
        parse(r#"{"Statement":[{"R":"{{bucket"}]}"#)
            .unwrap_err()
            .contains("unclosed")
    );
    assert!(
        parse(r#"{"Statement":[{"{{bucket}}":"x"}]}"#)
            .unwrap_err()
            .contains("in key")
    );
}

#[test]
fn oversized_template_is_refused() {
    let many = vec![r#""arn:aws:s3:::{{bucket}}/*""#; 40].join(",");
    let text = format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":[{many}]}}]}}"#);
    assert!(parse(&text).unwrap_err().contains("STS allows at most 2048"));
}

#[test]
fn shipped_templates_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let set = PolicySet::load(&dir, &["read-write", "read-only"]).unwrap();
    assert!(set.names().count() >= 2);
}

/// Every grant of the shipped templates is pinned to the service's account, so a session
/// never reaches a bucket of the same name in another account.
#[test]
fn shipped_templates_pin_the_account() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let set = PolicySet::load(&dir, &[]).unwrap();
    let account = AccountId::parse("210987654321").unwrap();
    let id = UserId::derive("i", "s");
    let bucket = BucketName::fresh("stsvend").unwrap();
    for name in set.names() {
        let prefix = UserPrefix::for_user("users", &id).unwrap();
        let t = set.templates.get(name).unwrap();
        let text = t.render(&RenderContext {
            bucket: &bucket,
            user_id: &id,
            account_id: &account,
            prefix: t.is_prefix_variant().then_some(&prefix),
        });
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert!(doc["Statement"].as_array().is_some_and(|s| !s.is_empty()), "{name}");
        assert_eq!(
            unpinned_statements(&doc, &account),
            Vec::<String>::new(),
            "{name}: {text}"
        );
        let other = AccountId::parse("111111111111").unwrap();
        assert!(
            !unpinned_statements(&doc, &other).is_empty(),
            "{name} pins the given account"
        );
    }
}

#[test]
fn statements_without_the_account_pin_are_named() {
    let account = AccountId::parse("123456789012").unwrap();
    let doc = serde_json::json!({"Statement": [
        {"Sid": "Pinned", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
         "Condition": {"StringEquals": {"s3:ResourceAccount": "123456789012"}}},
        {"Sid": "Loose", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*",
         "Condition": {"StringLike": {"s3:ResourceAccount": "123456789012"}}},
        {"Sid": "DenyIsFine", "Effect": "Deny", "Action": "s3:*", "Resource": "*"},
        {"Sid": "NotS3", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}
    ]});
    assert_eq!(unpinned_statements(&doc, &account), ["Loose", "statement 3"]);
}

#[test]
fn a_missing_required_template_is_named() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let errs = PolicySet::load(&dir, &["nope"]).unwrap_err();
    assert!(errs.iter().any(|e| e.to_string().contains("`nope`")));
}
