//! Session-policy templates: `Template::parse` on fuzzed text, then `render` for a user derived
//! from a fuzzed (iss, sub), a bucket from a fuzzed prefix and an account from fuzzed digits.
//!
//! Input: `iss \0 sub \0 prefix \0 account \0 template text`. With fewer than four NULs the
//! whole input is the template text (so plain JSON files are seeds as they are) and the user is
//! fixed.
//!
//! Invariants:
//! - nothing panics;
//! - when `parse` accepts: the rendered policy is valid JSON, has a `Statement` object or array,
//!   has the template's structure (same JSON once every string is blanked; floats may move in
//!   their last bits, see `same_shape`), keeps no placeholder, and is at most
//!   `MAX_POLICY_CHARS` characters for every user and bucket;
//! - `parse` accepts every JSON object with a `Statement` object or array, no `{{` anywhere,
//!   no key twice in one object, and a minified size within the limit (it refuses only for a
//!   reason).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use stsvend::identity::{AccountId, BucketName, OrgId, OrgPrefix, UserId, UserPrefix};
use stsvend::policy::{MAX_POLICY_CHARS, OrgContext, RenderContext, Template};

/// The same JSON with every string (keys kept) replaced by "".
fn blank_strings(v: &Value) -> Value {
    match v {
        Value::String(_) => Value::String(String::new()),
        Value::Array(items) => Value::Array(items.iter().map(blank_strings).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), blank_strings(v))).collect()),
        Value::Null | Value::Bool(_) | Value::Number(_) => v.clone(),
    }
}

/// Same JSON shape: equal keys, array lengths, kinds and non-string values. Floats may differ
/// in their last bits: serde_json's default float parsing is not correctly rounded (crate feature
/// `float_roundtrip` off), so a template's `2.533333e300` renders as `2.5333330000000003e300`;
/// integers, booleans and null must be exact.
fn same_shape(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(_), Value::String(_)) => true,
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            x == y || (x - y).abs() <= x.abs().max(y.abs()) * 1e-14
        }
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_shape(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len() && xs.iter().all(|(k, x)| ys.get(k).is_some_and(|y| same_shape(x, y)))
        }
        _ => a == b,
    }
}

/// True when some object in `text` (valid JSON) has the same key twice. serde_json's `Value`
/// keeps the last, so this walks the text's own maps.
fn has_duplicate_key(text: &str) -> bool {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    struct Walk;
    impl<'de> DeserializeSeed<'de> for Walk {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<bool, E> { Ok(false) }
        fn visit_i64<E>(self, _: i64) -> Result<bool, E> { Ok(false) }
        fn visit_u64<E>(self, _: u64) -> Result<bool, E> { Ok(false) }
        fn visit_f64<E>(self, _: f64) -> Result<bool, E> { Ok(false) }
        fn visit_str<E>(self, _: &str) -> Result<bool, E> { Ok(false) }
        fn visit_unit<E>(self) -> Result<bool, E> { Ok(false) }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
            let mut dup = false;
            while let Some(d) = seq.next_element_seed(Walk)? {
                dup |= d;
            }
            Ok(dup)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let (mut keys, mut dup) = (Vec::<String>::new(), false);
            while let Some(k) = map.next_key::<String>()? {
                dup |= keys.contains(&k);
                keys.push(k);
                dup |= map.next_value_seed(Walk)?;
            }
            Ok(dup)
        }
    }
    Walk.deserialize(&mut serde_json::Deserializer::from_str(text)).unwrap_or(false)
}

fn any_string(v: &Value, pred: &dyn Fn(&str) -> bool) -> bool {
    match v {
        Value::String(s) => pred(s),
        Value::Array(items) => items.iter().any(|i| any_string(i, pred)),
        Value::Object(map) => map.iter().any(|(k, v)| pred(k) || any_string(v, pred)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

struct Input<'a> {
    iss: &'a str,
    sub: &'a str,
    prefix: &'a str,
    account: u64,
    text: &'a str,
}

fn split(data: &[u8]) -> Option<Input<'_>> {
    let text = std::str::from_utf8(data).ok()?;
    let parts: Vec<&str> = text.splitn(5, '\0').collect();
    Some(match parts[..] {
        [iss, sub, prefix, account, text] => Input {
            iss,
            sub,
            prefix,
            account: account
                .bytes()
                .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)))
                % 1_000_000_000_000,
            text,
        },
        _ => Input {
            iss: "https://tenant.auth0.com/",
            sub: "auth0|alice",
            prefix: "stsvend",
            account: 123_456_789_012,
            text,
        },
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = split(data) else { return };
    let parsed = Template::parse(Path::new("fuzz.json"), input.text);
    let json: Option<Value> = serde_json::from_str(input.text).ok();

    let template = match parsed {
        Ok(t) => t,
        Err(reason) => {
            // A refusal needs a reason: not JSON, no Statement, a placeholder problem, or size.
            if let Some(v) = &json {
                let plain = v.get("Statement").is_some_and(|s| s.is_array() || s.is_object())
                    && !any_string(v, &|s| s.contains("{{"))
                    && !has_duplicate_key(input.text)
                    && v.to_string().chars().count() <= MAX_POLICY_CHARS;
                assert!(!plain, "refused a plain policy: {reason}");
            }
            return;
        }
    };
    let template_json = json.expect("parse accepted text that is not JSON");

    let user_id = UserId::derive(input.iss, input.sub);
    // The service draws bucket names at random; a fixed one of the same shape keeps runs
    // reproducible.
    let bucket: BucketName = BucketName::parse(&format!("{}-{user_id}", input.prefix))
        .or_else(|_| BucketName::parse(&format!("stsvend-{user_id}")))
        .expect("the default prefix makes a valid bucket");
    let account_id = AccountId::parse(&format!("{:012}", input.account)).expect("12 digits");
    // Only prefix-mode templates (`prefix-*.json`) may hold `{{prefix}}`; this one is named
    // `fuzz.json`, so the prefix must never show up in its rendering's structure either.
    let prefix = UserPrefix::for_user("users", &user_id).expect("a valid root");
    // An org template (one naming `{{org_*}}`) is rendered with the caller's organisation's
    // storage, as a team vend renders it; the id has the service's shape (`o` + 26 base32).
    let org_id = OrgId::parse(&format!("o{user_id}")).expect("the org id shape");
    let org_prefix = OrgPrefix::for_org("orgs", &org_id).expect("a valid root");
    let rendered = template.render(&RenderContext {
        claims: &[],
        bucket: &bucket,
        user_id: &user_id,
        account_id: &account_id,
        prefix: Some(&prefix),
        org: Some(OrgContext {
            id: &org_id,
            bucket: &bucket,
            prefix: Some(&org_prefix),
        }),
    });

    let out: Value =
        serde_json::from_str(&rendered).unwrap_or_else(|e| panic!("rendered policy is not JSON ({e}): {rendered}"));
    assert!(
        out.get("Statement").is_some_and(|s| s.is_array() || s.is_object()),
        "rendered policy lost its Statement"
    );
    assert!(
        same_shape(&out, &template_json),
        "rendering changed the policy's structure:\n{:?}\n{:?}",
        blank_strings(&out),
        blank_strings(&template_json)
    );
    assert!(
        !any_string(&out, &|s| s.contains("{{bucket}}")
            || s.contains("{{user_id}}")
            || s.contains("{{account_id}}")
            || s.contains("{{prefix}}")
            || s.contains("{{org_bucket}}")
            || s.contains("{{org_prefix}}")
            || s.contains("{{org_id}}")),
        "a placeholder survived rendering: {rendered}"
    );
    assert!(
        rendered.chars().count() <= MAX_POLICY_CHARS,
        "accepted template renders to {} > {MAX_POLICY_CHARS} characters",
        rendered.chars().count()
    );
});
