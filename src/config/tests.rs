use super::checks::is_role_arn;
use super::*;

const GOOD: &str = include_str!("../../config.toml");

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Config::from_sources("test", text, &env)
}

/// The shipped `config.toml` with `env` on top; its problems as one text (each section's own
/// tests use it).
pub(super) fn shipped(env: &[(&str, &str)]) -> Result<Config, String> {
    load(GOOD, env).map_err(|e| e.to_string())
}

#[test]
fn shipped_config_is_valid() {
    let c = load(GOOD, &[]).unwrap();
    assert!(c.auth.issuer.ends_with('/'));
    assert_eq!(c.policies.default, "read-write");
}

#[test]
fn env_overrides_take_precedence_and_are_typed() {
    let c = load(
        GOOD,
        &[
            ("STSVEND_AWS__SESSION_DURATION_SECONDS", "7200"),
            ("STSVEND_AWS__ROLE_ARN", "arn:aws:iam::123456789012:role/x"),
            ("STSVEND_STORAGE__CORS_ALLOWED_ORIGINS", r#"["https://app.example"]"#),
            ("UNRELATED", "1"),
            ("STSVEND_CONFIG", "elsewhere.toml"),
        ],
    )
    .unwrap();
    assert_eq!(c.aws.session_duration_seconds, 7200);
    assert_eq!(c.aws.role_arn, "arn:aws:iam::123456789012:role/x");
    assert_eq!(c.storage.cors_allowed_origins, vec!["https://app.example"]);
}

#[test]
fn every_problem_is_listed_at_once() {
    let text = GOOD
        .replace("[server]", "[server]\nbogus = 1")
        .replace("session_duration_seconds = 3600", "session_duration_seconds = 60");
    let err = load(
        &text,
        &[
            ("STSVEND_AWS__ROLE_ARN", "not-an-arn"),
            ("STSVEND_AUTH__COLOR", "x"),
            ("STSVEND_AWS_REGION", "x"),
        ],
    )
    .unwrap_err();
    let all = err.to_string();
    assert!(all.contains("unknown key `server.bogus`"), "{all}");
    assert!(all.contains("unknown key `auth.color`"), "{all}");
    assert!(all.contains("aws.role_arn"), "{all}");
    assert!(all.contains("aws.session_duration_seconds: 60"), "{all}");
    assert!(all.contains("`STSVEND_AWS_REGION`: overrides are"), "{all}");
}

#[test]
fn prefix_mode_needs_a_shared_bucket_the_role_reaches_and_a_clean_root() {
    let err = load(GOOD, &[("STSVEND_STORAGE__MODE", "prefix")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("storage.shared_bucket: required"), "{err}");
    let err = load(
        GOOD,
        &[
            ("STSVEND_STORAGE__MODE", "prefix"),
            ("STSVEND_STORAGE__SHARED_BUCKET", "elsewhere-shared"),
            ("STSVEND_STORAGE__PREFIX_ROOT", "users/../x"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("storage.shared_bucket: `elsewhere-shared`"), "{err}");
    assert!(err.contains("storage.prefix_root"), "{err}");
    let c = load(
        GOOD,
        &[
            ("STSVEND_STORAGE__MODE", "prefix"),
            ("STSVEND_STORAGE__SHARED_BUCKET", "stsvend-shared"),
        ],
    )
    .unwrap();
    assert_eq!(c.storage.mode, StorageMode::Prefix);
    assert_eq!(c.storage.shared_bucket().unwrap().as_str(), "stsvend-shared");
    assert_eq!(c.storage.prefix_root, "users");
    let err = load(GOOD, &[("STSVEND_STORAGE__MODE", "shared")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("storage"), "{err}");
}

#[test]
fn issuer_without_trailing_slash_is_refused() {
    let err = load(GOOD, &[("STSVEND_AUTH__ISSUER", "https://tenant.auth0.com")]).unwrap_err();
    assert!(err.to_string().contains("auth.issuer: must end with `/`"));
}

#[test]
fn a_plain_http_issuer_or_jwks_url_needs_allow_insecure_http() {
    // Loopback is not special: only the flag lets plain http through.
    let err = load(GOOD, &[("STSVEND_AUTH__ALLOW_INSECURE_HTTP", "false")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("auth.issuer: `http://127.0.0.1:4400/` is plain http") && err.contains("auth.allow_insecure_http"),
        "{err}"
    );
    let https = [
        ("STSVEND_AUTH__ALLOW_INSECURE_HTTP", "false"),
        ("STSVEND_AUTH__ISSUER", "https://tenant.auth0.com/"),
    ];
    let err = load(
        GOOD,
        &[
            https[0],
            https[1],
            (
                "STSVEND_AUTH__JWKS_URL",
                "http://tenant.auth0.com/.well-known/jwks.json",
            ),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("auth.jwks_url: `http://tenant.auth0.com/.well-known/jwks.json` is plain http"),
        "{err}"
    );
    assert!(!err.contains("auth.issuer"), "{err}");
    let c = load(
        GOOD,
        &[
            https[0],
            https[1],
            (
                "STSVEND_AUTH__JWKS_URL",
                "https://tenant.auth0.com/.well-known/jwks.json",
            ),
        ],
    )
    .unwrap();
    assert!(!c.auth.allow_insecure_http);
    assert!(load(GOOD, &[("STSVEND_AUTH__ALLOW_INSECURE_HTTP", "true")]).is_ok());
    assert!(
        load(GOOD, &[("STSVEND_AUTH__ISSUER", "ftp://tenant.auth0.com/")])
            .unwrap_err()
            .to_string()
            .contains("auth.issuer: must be an https:// URL")
    );
}

#[test]
fn allow_insecure_http_is_off_unless_set() {
    let text = GOOD.replace("allow_insecure_http = true\n", "");
    assert_ne!(text, GOOD, "config.toml sets the key for the local stack");
    let c = load(&text, &[("STSVEND_AUTH__ISSUER", "https://tenant.auth0.com/")]).unwrap();
    assert!(!c.auth.allow_insecure_http);
    assert!(load(&text, &[]).is_err(), "the local http issuer needs the flag");
}

#[test]
fn jwks_refresh_defaults_to_five_minutes_and_allows_down_to_one_second() {
    let text = GOOD.replace("jwks_refresh_seconds = 300\n", "");
    assert_ne!(text, GOOD, "config.toml shows the default");
    assert_eq!(load(&text, &[]).unwrap().auth.jwks_refresh_seconds, 300);
    let with = |v: &str| load(GOOD, &[("STSVEND_AUTH__JWKS_REFRESH_SECONDS", v)]);
    assert_eq!(with("1").unwrap().auth.jwks_refresh_seconds, 1);
    assert_eq!(with("86400").unwrap().auth.jwks_refresh_seconds, 86_400);
    for bad in ["0", "86401"] {
        let err = with(bad).unwrap_err().to_string();
        assert!(
            err.contains(&format!("auth.jwks_refresh_seconds: {bad} is outside 1..=86400")),
            "{err}"
        );
    }
}

#[test]
fn required_claims_take_scalar_values_and_not_the_checked_claims() {
    let c = load(
        GOOD,
        &[
            ("STSVEND_AUTH__REQUIRED_CLAIMS__EMAIL_VERIFIED", "true"),
            ("STSVEND_AUTH__REQUIRED_CLAIMS__ORG_ID", "org_1"),
        ],
    )
    .unwrap();
    assert_eq!(c.auth.required_claims["email_verified"], serde_json::json!(true));
    assert_eq!(c.auth.required_claims["org_id"], serde_json::json!("org_1"));
    let err = load(
        GOOD,
        &[
            ("STSVEND_AUTH__REQUIRED_CLAIMS__SUB", "x"),
            ("STSVEND_AUTH__REQUIRED_CLAIMS__LEVEL", "1.5"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`sub` cannot be required here"), "{err}");
    assert!(err.contains("required_claims.level: must be a string"), "{err}");
}

#[test]
fn symmetric_algorithms_cannot_be_enabled() {
    let err = load(GOOD, &[("STSVEND_AUTH__ALGORITHMS", r#"["HS256"]"#)]).unwrap_err();
    assert!(err.to_string().contains("`HS256` is not an accepted"));
}

#[test]
fn role_arns_are_checked() {
    assert!(is_role_arn("arn:aws:iam::000000000000:role/stsvend-vend"));
    assert!(is_role_arn("arn:aws-us-gov:iam::123456789012:role/path/name"));
    assert!(!is_role_arn("arn:aws:iam::0000:role/x"));
    assert!(!is_role_arn("arn:aws:iam::000000000000:user/x"));
    assert!(!is_role_arn("arn:aws:sts::000000000000:role/x"));
    assert!(!is_role_arn("arn:aws:iam::000000000000:role/"));
}

#[test]
fn new_users_per_day_defaults_to_2000_in_bucket_mode_and_to_none_in_prefix_mode() {
    let prefix = [
        ("STSVEND_STORAGE__MODE", "prefix"),
        ("STSVEND_STORAGE__SHARED_BUCKET", "stsvend-shared"),
    ];
    let limit = |env: &[(&str, &str)]| {
        load(GOOD, env)
            .unwrap()
            .new_users_per_day()
            .map(std::num::NonZeroU32::get)
    };
    assert_eq!(limit(&[]), Some(2000));
    assert_eq!(limit(&prefix), None, "a prefix costs no bucket");
    assert_eq!(
        limit(&[("STSVEND_LIMITS__NEW_USERS_PER_DAY", "0")]),
        None,
        "0 is no limit"
    );
    assert_eq!(limit(&[("STSVEND_LIMITS__NEW_USERS_PER_DAY", "3")]), Some(3));
    let mut set = prefix.to_vec();
    set.push(("STSVEND_LIMITS__NEW_USERS_PER_DAY", "50"));
    assert_eq!(limit(&set), Some(50), "configured, it holds in prefix mode too");
}

#[test]
fn change_retention_defaults_to_an_hour_and_is_bounded() {
    let text = GOOD.replace("change_retention_seconds = 3600\n", "");
    assert_ne!(text, GOOD, "config.toml shows the default");
    assert_eq!(load(&text, &[]).unwrap().cache.change_retention_seconds, 3600);
    let with = |v: &str| load(GOOD, &[("STSVEND_CACHE__CHANGE_RETENTION_SECONDS", v)]);
    assert_eq!(with("2").unwrap().cache.change_retention_seconds, 2);
    for bad in ["1", "604801"] {
        let err = with(bad).unwrap_err().to_string();
        assert!(
            err.contains(&format!("cache.change_retention_seconds: {bad} is outside 2..=604800")),
            "{err}"
        );
    }
}

#[test]
fn the_client_address_header_is_x_forwarded_for_unless_set_to_forwarded() {
    let c = load(GOOD, &[]).unwrap();
    assert_eq!(c.server.client_address_header, ClientAddressHeader::XForwardedFor);
    let c = load(GOOD, &[("STSVEND_SERVER__CLIENT_ADDRESS_HEADER", "forwarded")]).unwrap();
    assert_eq!(c.server.client_address_header, ClientAddressHeader::Forwarded);
    let err = load(GOOD, &[("STSVEND_SERVER__CLIENT_ADDRESS_HEADER", "x-real-ip")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("x-real-ip") && err.contains("x-forwarded-for"), "{err}");
}

#[test]
fn the_bucket_name_prefix_is_also_read_under_its_old_name_from_the_file_and_the_environment() {
    let old_file = GOOD.replace("bucket_name_prefix = ", "bucket_prefix = ");
    assert!(
        old_file.contains("\nbucket_prefix = \"stsvend\""),
        "config.toml names the key"
    );
    assert_eq!(load(&old_file, &[]).unwrap().storage.bucket_name_prefix, "stsvend");
    for (file, var) in [
        (GOOD, "STSVEND_STORAGE__BUCKET_PREFIX"),
        (old_file.as_str(), "STSVEND_STORAGE__BUCKET_NAME_PREFIX"),
        (old_file.as_str(), "STSVEND_STORAGE__BUCKET_PREFIX"),
    ] {
        let c = load(file, &[(var, "from-env")]).unwrap();
        assert_eq!(c.storage.bucket_name_prefix, "from-env", "{var}");
    }
    let both = GOOD.replace(
        "bucket_name_prefix = \"stsvend\"",
        "bucket_name_prefix = \"stsvend\"\nbucket_prefix = \"other\"",
    );
    let problems = load(&both, &[]).unwrap_err().problems;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("storage.bucket_prefix") && p.contains("storage.bucket_name_prefix")),
        "{problems:?}"
    );
}

#[test]
fn an_environment_setting_the_bucket_name_prefix_under_both_names_is_refused() {
    let problems = load(
        GOOD,
        &[
            ("STSVEND_STORAGE__BUCKET_PREFIX", "one"),
            ("STSVEND_STORAGE__BUCKET_NAME_PREFIX", "two"),
        ],
    )
    .unwrap_err()
    .problems;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("STSVEND_STORAGE__BUCKET_PREFIX") && p.contains("STSVEND_STORAGE__BUCKET_NAME_PREFIX")),
        "{problems:?}"
    );
}
