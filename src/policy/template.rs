//! One template file: parsed once, checked (placeholders only inside string values, the
//! prefix-mode and org rules, the size after a trial render with the longest names), then
//! rendered per session by substituting typed values into the parsed strings.

use std::path::Path;

use serde_json::Value;

use super::claims::{CLAIM_PLACEHOLDER, DeclaredClaims};
use super::{MAX_POLICY_CHARS, PREFIX_VARIANT, TrialNames, TrialStorage};
use crate::identity::{
    AccountId, BucketName, ClaimValue, MAX_BUCKET_NAME_PREFIX, MAX_PREFIX_ROOT, OrgId, OrgPrefix, TemplateId, UserId,
    UserPrefix,
};

const PLACEHOLDERS: [&str; 7] = [
    "bucket",
    "user_id",
    "account_id",
    "prefix",
    "org_bucket",
    "org_prefix",
    "org_id",
];

/// The placeholders that make a template an org template.
const ORG_PLACEHOLDERS: [&str; 3] = ["org_bucket", "org_prefix", "org_id"];

/// Values substituted into a template; typed so only derived, validated names get in.
pub struct RenderContext<'a> {
    pub bucket: &'a BucketName,
    pub user_id: &'a UserId,
    pub account_id: &'a AccountId,
    /// The user's prefix of the shared `bucket` (prefix mode only).
    pub prefix: Option<&'a UserPrefix>,
    /// The caller's organisation's storage: org templates are rendered only with one.
    pub org: Option<OrgContext<'a>>,
    /// `{{claims.NAME}}` values by NAME: every claim the template names (the vend checks it).
    pub claims: &'a [(Box<str>, ClaimValue)],
}

/// An organisation's storage, for `{{org_bucket}}`, `{{org_prefix}}` and `{{org_id}}`.
#[derive(Clone, Copy)]
pub struct OrgContext<'a> {
    pub id: &'a OrgId,
    pub bucket: &'a BucketName,
    /// The org's prefix of the shared `bucket` (prefix mode only).
    pub prefix: Option<&'a OrgPrefix>,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub(super) name: String,
    /// Position in the loaded set (name order), for per-template metrics. Never a key for
    /// anything that outlives the set: adding a template moves every later one (see `id`).
    pub(super) index: u8,
    /// Name and digest of the body: what issued keys are shared, leased and sealed under.
    pub(super) id: TemplateId,
    pub(super) body: Value,
    /// Names an org placeholder: needs the caller's organisation.
    pub(super) org: bool,
    /// The claims it names (`{{claims.NAME}}`), by NAME.
    pub(super) claims: Box<[Box<str>]>,
    /// Whose storage it can add objects to (quotas refuse it to owners over a limit).
    pub(super) writes: super::WriteTargets,
}

impl Template {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn index(&self) -> u8 {
        self.index
    }

    /// The template's identity (name and body digest), the same in every process that loaded
    /// the same file, whatever else its folder holds.
    pub fn id(&self) -> &TemplateId {
        &self.id
    }

    /// The access this template grants: its name, without the prefix-mode variant's `prefix-`.
    pub fn access(&self) -> &str {
        self.name.strip_prefix(PREFIX_VARIANT).unwrap_or(&self.name)
    }

    /// True for an org template (it names `{{org_bucket}}`, `{{org_prefix}}` or `{{org_id}}`).
    pub fn is_org(&self) -> bool {
        self.org
    }

    /// The claims it names as `{{claims.NAME}}`: a token must carry each, valid, to get it.
    pub fn claims(&self) -> &[Box<str>] {
        &self.claims
    }

    /// True for a prefix-mode variant (`prefix-<access>`).
    pub fn is_prefix_variant(&self) -> bool {
        self.name.starts_with(PREFIX_VARIANT)
    }

    /// Renders the minified policy text for one user.
    pub fn render(&self, ctx: &RenderContext<'_>) -> String {
        let mut body = self.body.clone();
        substitute(&mut body, ctx);
        body.to_string()
    }
}

fn substitute(v: &mut Value, ctx: &RenderContext<'_>) {
    match v {
        Value::String(s) => {
            if s.contains("{{") {
                *s = s
                    .replace("{{bucket}}", ctx.bucket.as_str())
                    .replace("{{user_id}}", ctx.user_id.as_str())
                    .replace("{{account_id}}", ctx.account_id.as_str())
                    // Only prefix-mode variants hold it (checked at load), and they are
                    // rendered only for users with a prefix.
                    .replace("{{prefix}}", ctx.prefix.map_or("", UserPrefix::as_str))
                    // Only org templates hold these (checked at load), rendered only with an org.
                    .replace("{{org_bucket}}", ctx.org.map_or("", |o| o.bucket.as_str()))
                    .replace(
                        "{{org_prefix}}",
                        ctx.org.and_then(|o| o.prefix).map_or("", OrgPrefix::as_str),
                    )
                    .replace("{{org_id}}", ctx.org.map_or("", |o| o.id.as_str()));
                // Last: no value above holds a `{`, so none can form a claim placeholder. A
                // claim value holds no `{` either (`is_claim_char`): nothing is substituted twice.
                if s.contains("{{claims.") {
                    for (name, value) in ctx.claims {
                        *s = s.replace(&format!("{{{{{CLAIM_PLACEHOLDER}{name}}}}}"), value.as_str());
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, ctx)),
        Value::Object(map) => map.values_mut().for_each(|i| substitute(i, ctx)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

impl Template {
    /// Parses and checks one template file, with no claims declared.
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        Self::parse_with(path, text, &DeclaredClaims::default())
    }

    /// Parses and checks one template file; it may name the `declared` claims, and is
    /// trial-rendered with each at its longest.
    pub fn parse_with(path: &Path, text: &str, declared: &DeclaredClaims) -> Result<Self, String> {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|n| {
                !n.is_empty()
                    && n.len() <= 64
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
            .ok_or("file name must be <name>.json with a name of [a-z0-9-], at most 64 characters")?
            .to_owned();
        let body: Value = super::strict_json::parse(text)
            .map_err(|e| format!("not valid JSON ({e}); placeholders are allowed only inside string values"))?;
        let statements = body.get("Statement").ok_or("a policy document needs a `Statement`")?;
        if !(statements.is_array() || statements.is_object()) {
            return Err("`Statement` must be an object or an array".to_owned());
        }
        // What the parsed strings name (a `\u007b` escape is a `{` like any other).
        let mut named = Used::default();
        check_placeholders(&body, declared, &mut named)?;
        let Used { fixed, claims } = named;
        let uses = |name: &str| fixed.contains(&name);
        let uses_prefix = uses("prefix");
        let variant = name.starts_with(PREFIX_VARIANT);
        if variant && !uses_prefix {
            return Err(format!(
                "a prefix-mode template ({PREFIX_VARIANT}*) must scope its statements with {{{{prefix}}}}"
            ));
        }
        if !variant && uses_prefix {
            return Err(format!(
                "{{{{prefix}}}} is only for prefix-mode templates (named {PREFIX_VARIANT}<access>.json)"
            ));
        }
        let org = ORG_PLACEHOLDERS.iter().any(|p| uses(p));
        let uses_org_prefix = uses("org_prefix");
        if !variant && uses_org_prefix {
            return Err(format!(
                "{{{{org_prefix}}}} is only for prefix-mode templates (named {PREFIX_VARIANT}<access>.json)"
            ));
        }
        if variant && uses("org_bucket") && !uses_org_prefix {
            return Err(
                "a prefix-mode template naming {{org_bucket}} (the shared bucket) must scope it with {{org_prefix}}"
                    .to_owned(),
            );
        }

        // The digest is of the parsed document, so reformatting the file keeps its keys.
        let id = TemplateId::new(&name, body.to_string().as_bytes());
        let writes = super::writes::write_targets(&body, org);
        let template = Self {
            name,
            index: 0,
            id,
            writes,
            body,
            org,
            claims: claims.into_iter().map(String::into_boxed_str).collect(),
        };
        // Trial render with the longest names stsvend derives, so the size check is a bound.
        let longest_name_prefix = "a".repeat(MAX_BUCKET_NAME_PREFIX);
        let longest_root = "a".repeat(MAX_PREFIX_ROOT);
        let trial = TrialStorage::new(
            UserId::derive("trial", "render"),
            AccountId::parse("123456789012").map_err(|e| e.to_string())?,
            &TrialNames {
                bucket_name_prefix: &longest_name_prefix,
                prefix_root: &longest_root,
                org_prefix_root: &longest_root,
            },
        )
        .map_err(|e| e.to_string())?;
        // Only what the template may name: `{{prefix}}` in variants, `{{org_*}}` in org ones.
        let longest = declared.longest_values();
        let full = trial.context(&longest);
        let rendered = template.render(&RenderContext {
            prefix: full.prefix.filter(|_| variant),
            org: full.org.filter(|_| org).map(|o| OrgContext {
                prefix: o.prefix.filter(|_| variant),
                ..o
            }),
            ..full
        });
        if rendered.chars().count() > MAX_POLICY_CHARS {
            return Err(format!(
                "renders to {} characters minified; STS allows at most {MAX_POLICY_CHARS}",
                rendered.chars().count()
            ));
        }
        Ok(template)
    }
}

/// The placeholders a template names.
#[derive(Default)]
struct Used {
    fixed: Vec<&'static str>,
    /// `{{claims.NAME}}`, by NAME.
    claims: Vec<String>,
}

/// Every `{{...}}` in every string must be a known placeholder or a declared claim; keys may
/// not hold any. Adds each placeholder named to `used`.
fn check_placeholders(v: &Value, declared: &DeclaredClaims, used: &mut Used) -> Result<(), String> {
    match v {
        Value::String(s) => check_string(s, declared, used),
        Value::Array(items) => items.iter().try_for_each(|i| check_placeholders(i, declared, used)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            if k.contains("{{") {
                return Err(format!(
                    "placeholder in key `{k}`: placeholders are allowed only in string values"
                ));
            }
            check_placeholders(v, declared, used)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn check_string(s: &str, declared: &DeclaredClaims, used: &mut Used) -> Result<(), String> {
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed placeholder in `{s}`"))?;
        let name = &after[..end];
        rest = &after[end + 2..];
        if let Some(claim) = name.strip_prefix(CLAIM_PLACEHOLDER) {
            if !declared.is_declared(claim) {
                return Err(format!(
                    "`{{{{{name}}}}}` names a claim not declared in [policies.claims] (declare `[policies.claims.{claim}]` with its claim and pattern)"
                ));
            }
            if !used.claims.iter().any(|c| c == claim) {
                used.claims.push(claim.to_owned());
            }
            continue;
        }
        let Some(known) = PLACEHOLDERS.iter().find(|p| **p == name) else {
            return Err(format!(
                "unknown placeholder `{{{{{name}}}}}` (known: {{{{bucket}}}}, {{{{user_id}}}}, {{{{account_id}}}}, {{{{prefix}}}}, {{{{org_bucket}}}}, {{{{org_prefix}}}}, {{{{org_id}}}}, {{{{claims.NAME}}}})"
            ));
        };
        if !used.fixed.contains(known) {
            used.fixed.push(known);
        }
    }
    Ok(())
}
