//! Org templates: what makes one, where `{{org_prefix}}` may go, the shipped team templates,
//! and how `[orgs]` being unset keeps them out.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::*;
use crate::identity::{AccountId, BucketName, OrgId, UserId};

fn parse(name: &str, text: &str) -> Result<Template, String> {
    Template::parse(Path::new(&format!("{name}.json")), text)
}

fn shipped() -> PolicySet {
    PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"), &[]).unwrap()
}

#[test]
fn a_template_naming_an_org_placeholder_is_an_org_template() {
    let personal = parse("p", r#"{"Statement":[{"Resource":"arn:aws:s3:::{{bucket}}/*"}]}"#).unwrap();
    assert!(!personal.is_org());
    for placeholder in ["{{org_bucket}}", "{{org_id}}"] {
        let t = parse("t", &format!(r#"{{"Statement":[{{"Resource":"{placeholder}"}}]}}"#)).unwrap();
        assert!(t.is_org(), "{placeholder}");
    }
}

#[test]
fn org_prefix_belongs_to_prefix_variants_which_must_scope_the_org_bucket_with_it() {
    let err = parse(
        "t",
        r#"{"Statement":[{"Resource":"arn:aws:s3:::{{org_bucket}}/{{org_prefix}}*"}]}"#,
    )
    .unwrap_err();
    assert!(
        err.contains("{{org_prefix}} is only for prefix-mode templates"),
        "{err}"
    );
    let err = parse(
        "prefix-t",
        r#"{"Statement":[{"Resource":["arn:aws:s3:::{{bucket}}/{{prefix}}*","arn:aws:s3:::{{org_bucket}}/*"]}]}"#,
    )
    .unwrap_err();
    assert!(err.contains("must scope it with {{org_prefix}}"), "{err}");
}

/// The shipped team templates reach the org's storage; `team-read` never writes there.
#[test]
fn the_shipped_team_templates_reach_own_and_org_storage_and_team_read_only_reads_the_org() {
    let set = shipped();
    for name in [
        "team-read-write",
        "team-read",
        "prefix-team-read-write",
        "prefix-team-read",
    ] {
        assert!(set.templates.get(name).is_some_and(Template::is_org), "{name}");
    }
    let user = UserId::derive("i", "s");
    let (bucket, org_bucket) = (
        BucketName::fresh("stsvend").unwrap(),
        BucketName::fresh("stsvend").unwrap(),
    );
    let org = OrgId::fresh().unwrap();
    let text = set.templates["team-read"].render(&RenderContext {
        claims: &[],
        bucket: &bucket,
        user_id: &user,
        account_id: &AccountId::parse("123456789012").unwrap(),
        prefix: None,
        org: Some(OrgContext {
            id: &org,
            bucket: &org_bucket,
            prefix: None,
        }),
    });
    let doc: Value = serde_json::from_str(&text).unwrap();
    let org_objects = format!("arn:aws:s3:::{org_bucket}/*");
    let writes_org = doc["Statement"].as_array().unwrap().iter().any(|st| {
        let reaches_org = st["Resource"] == org_objects.as_str()
            || st["Resource"]
                .as_array()
                .is_some_and(|r| r.contains(&Value::from(org_objects.as_str())));
        let writes = st["Action"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a == "s3:PutObject" || a == "s3:DeleteObject"));
        reaches_org && writes
    });
    assert!(!writes_org, "team-read writes the org's storage: {text}");
    assert!(text.contains(&org_objects), "{text}");
}

fn config(grants: &[(&str, &str)]) -> crate::config::PoliciesConfig {
    crate::config::PoliciesConfig {
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        default: "read-write".to_owned(),
        grants: grants
            .iter()
            .map(|(t, g)| ((*t).to_owned(), vec![(*g).to_owned()]))
            .collect::<BTreeMap<_, _>>(),
        claims: BTreeMap::new(),
    }
}

#[test]
fn without_orgs_the_team_templates_are_left_out_and_granting_one_is_refused() {
    let personal = [("read-write", "write:files"), ("read-only", "read:files")];
    let off = PolicySet::for_config(&config(&personal), true, false).unwrap();
    assert!(off.all().all(|t| !t.is_org()));
    assert_eq!(off.access_names().collect::<Vec<_>>(), ["read-only", "read-write"]);
    assert!(
        off.all().enumerate().all(|(i, t)| usize::from(t.index()) == i),
        "indexes stay dense"
    );

    let with_team = [
        ("read-write", "write:files"),
        ("read-only", "read:files"),
        ("team-read-write", "write:team-files"),
        ("team-read", "read:team-files"),
    ];
    let errs = PolicySet::for_config(&config(&with_team), false, false).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|e| e.contains("`team-read-write` is an org template")),
        "{text:?}"
    );

    let on = PolicySet::for_config(&config(&with_team), true, true).unwrap();
    let team_default = crate::config::PoliciesConfig {
        default: "team-read-write".to_owned(),
        ..config(&with_team)
    };
    let errs = PolicySet::for_config(&team_default, true, true).unwrap_err();
    assert!(errs.iter().any(|e| matches!(e, PolicyError::OrgDefault(_))), "{errs:?}");
    assert!(on.get("team-read-write").is_some_and(Template::is_org));
    // With orgs on, every template in the folder still needs a grant.
    let errs = PolicySet::for_config(&config(&personal), false, true).unwrap_err();
    assert!(errs.iter().any(|e| e.to_string().contains("team-read")), "{errs:?}");
}
