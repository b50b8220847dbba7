//! Session-policy templates.
//!
//! A template is a JSON file in `policies.dir`, named `<access>.json`; `prefix-<access>.json`
//! is the same access for users in prefix mode (a prefix of a shared bucket), and only it may
//! (and must) use `{{prefix}}`. Placeholders
//! (`{{bucket}}`, `{{user_id}}`, `{{account_id}}`, `{{prefix}}`) may only appear inside JSON string values: the template is
//! parsed first and substitution happens on the parsed strings, so no value can change the
//! policy's structure. A template naming `{{org_bucket}}`, `{{org_prefix}}` or `{{org_id}}` is
//! an org template: it also reaches the caller's organisation's storage (`[orgs]`); only
//! prefix-mode variants use `{{org_prefix}}`. Every template is trial-rendered at start-up with the longest names
//! stsvend can produce, and refused if it is invalid or exceeds STS's 2048-character limit.

mod actions;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::StorageMode;
use crate::identity::{AccountId, BucketName, MAX_PREFIX_ROOT, OrgId, OrgPrefix, TemplateId, UserId, UserPrefix};

/// STS rejects inline session policies longer than this (minified, in characters).
pub const MAX_POLICY_CHARS: usize = 2048;

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
const ORG_PLACEHOLDERS: [&str; 3] = ["{{org_bucket}}", "{{org_prefix}}", "{{org_id}}"];

/// File-name prefix of a template's prefix-mode variant: `prefix-read-write.json` serves
/// `read-write` to users in prefix mode.
pub const PREFIX_VARIANT: &str = "prefix-";

/// The condition that pins a statement to the service's own account: bucket names are global,
/// so without it a session scoped to `arn:aws:s3:::<name>` also reaches a bucket of that name
/// in any other account (one registered after a user's bucket was deleted, say).
pub const ACCOUNT_CONDITION_KEY: &str = "s3:ResourceAccount";

/// Values substituted into a template; typed so only derived, validated names get in.
pub struct RenderContext<'a> {
    pub bucket: &'a BucketName,
    pub user_id: &'a UserId,
    pub account_id: &'a AccountId,
    /// The user's prefix of the shared `bucket` (prefix mode only).
    pub prefix: Option<&'a UserPrefix>,
    /// The caller's organisation's storage: org templates are rendered only with one.
    pub org: Option<OrgContext<'a>>,
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
    name: String,
    /// Position in the loaded set (name order), for per-template metrics. Never a key for
    /// anything that outlives the set: adding a template moves every later one (see `id`).
    index: u8,
    /// Name and digest of the body: what issued keys are shared, leased and sealed under.
    id: TemplateId,
    body: Value,
    /// Names an org placeholder: needs the caller's organisation.
    org: bool,
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
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, ctx)),
        Value::Object(map) => map.values_mut().for_each(|i| substitute(i, ctx)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy directory {dir}: {source}")]
    Dir { dir: PathBuf, source: std::io::Error },
    #[error("{file}: {reason}")]
    Template { file: PathBuf, reason: String },
    #[error("no template named `{0}` in the policy directory (referenced by config)")]
    Missing(String),
    #[error("storage.mode = \"prefix\" needs a prefix-mode variant of `{0}`: {PREFIX_VARIANT}{0}.json")]
    MissingVariant(String),
    #[error("`{0}` is an org template (it names {{{{org_*}}}}): configure [orgs] to grant it")]
    OrgsOff(String),
    #[error("policies.default `{0}` is an org template: the default must serve callers without an organisation")]
    OrgDefault(String),
}

/// All templates, by access name.
#[derive(Debug, Clone)]
pub struct PolicySet {
    templates: BTreeMap<String, Template>,
}

impl PolicySet {
    /// Loads and checks every `*.json` in `dir`; `required` names (from config) must exist.
    /// Returns every problem found, not just the first.
    pub fn load(dir: &Path, required: &[&str]) -> Result<Self, Vec<PolicyError>> {
        let entries = std::fs::read_dir(dir).map_err(|source| {
            vec![PolicyError::Dir {
                dir: dir.to_owned(),
                source,
            }]
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();

        let mut templates = BTreeMap::new();
        let mut errors = Vec::new();
        for path in paths {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(PolicyError::Template {
                        file: path,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            match Template::parse(&path, &text) {
                Ok(t) => {
                    templates.insert(t.name.clone(), t);
                }
                Err(reason) => errors.push(PolicyError::Template { file: path, reason }),
            }
        }
        for name in required {
            if !templates.contains_key(*name) {
                errors.push(PolicyError::Missing((*name).to_owned()));
            }
        }
        if templates.len() > usize::from(u8::MAX) {
            errors.push(PolicyError::Template {
                file: dir.to_owned(),
                reason: format!("{} templates; at most {} are supported", templates.len(), u8::MAX),
            });
        }
        for (index, t) in templates.values_mut().enumerate() {
            t.index = u8::try_from(index).unwrap_or(u8::MAX);
        }
        // In-memory caches key by 64 bits of the identity: two templates must not share them.
        let mut shorts: Vec<u64> = templates.values().map(|t| t.id.short()).collect();
        shorts.sort_unstable();
        if shorts.windows(2).any(|w| w[0] == w[1]) {
            errors.push(PolicyError::Template {
                file: dir.to_owned(),
                reason: "two templates share a cache key; rename one".to_owned(),
            });
        }
        if errors.is_empty() {
            Ok(Self { templates })
        } else {
            Err(errors)
        }
    }

    /// The templates `policies` names (the default and every one in `grants`), loaded and
    /// checked; every template in the folder must say who may use it.
    /// With `prefix_mode` (new users get prefixes), every granted access needs its
    /// prefix-mode variant.
    /// Without `orgs` (`[orgs]` unset), org templates in the folder are left out (logged), and
    /// a grant or default naming one is an error.
    pub fn for_config(
        policies: &crate::config::PoliciesConfig,
        prefix_mode: bool,
        orgs: bool,
    ) -> Result<Self, Vec<PolicyError>> {
        let mut required: Vec<&str> = policies.grants.keys().map(String::as_str).collect();
        required.push(&policies.default);
        let mut set = Self::load(&policies.dir, &[])?;
        let mut errors = Vec::new();
        if !orgs {
            let left_out: Vec<String> = set
                .templates
                .values()
                .filter(|t| t.org)
                .map(|t| t.name.clone())
                .collect();
            for name in &left_out {
                set.templates.remove(name);
            }
            set.reindex();
            if !left_out.is_empty() {
                tracing::info!(templates = ?left_out, "org templates left out: [orgs] is not configured");
            }
            let refused = |n: &str| {
                left_out
                    .iter()
                    .any(|l| l == n || l.strip_prefix(PREFIX_VARIANT) == Some(n))
            };
            errors.extend(
                required
                    .iter()
                    .filter(|n| refused(n))
                    .map(|n| PolicyError::OrgsOff((*n).to_owned())),
            );
            required.retain(|n| !refused(n));
        }
        errors.extend(
            required
                .iter()
                .filter(|n| !set.templates.contains_key(**n))
                .map(|n| PolicyError::Missing((*n).to_owned())),
        );
        if set.templates.get(&policies.default).is_some_and(|t| t.org) {
            errors.push(PolicyError::OrgDefault(policies.default.clone()));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut unbound: Vec<PolicyError> = set
            .templates
            .values()
            .filter(|t| !policies.grants.contains_key(t.access()))
            .map(Template::name)
            .map(|n| PolicyError::Template {
                file: policies.dir.join(format!("{n}.json")),
                reason: format!("no policies.grants entry says who may use `{n}`"),
            })
            .collect();
        if prefix_mode {
            unbound.extend(
                policies
                    .grants
                    .keys()
                    .filter(|a| !set.templates.contains_key(&format!("{PREFIX_VARIANT}{a}")))
                    .map(|a| PolicyError::MissingVariant(a.clone())),
            );
        }
        if unbound.is_empty() { Ok(set) } else { Err(unbound) }
    }

    /// Numbers the templates in name order again, after some were left out.
    fn reindex(&mut self) {
        for (index, t) in self.templates.values_mut().enumerate() {
            t.index = u8::try_from(index).unwrap_or(u8::MAX);
        }
    }

    /// The template of access `name` (never a prefix-mode variant: those are chosen by
    /// [`PolicySet::for_mode`]).
    pub fn get(&self, name: &str) -> Option<&Template> {
        self.templates.get(name).filter(|t| !t.is_prefix_variant())
    }

    /// The template that serves `access` to a user whose storage is laid out as `mode`: its
    /// prefix-mode variant in prefix mode (`None` when there is none), else `access` itself.
    pub fn for_mode<'a>(&'a self, access: &'a Template, mode: StorageMode) -> Option<&'a Template> {
        match mode {
            StorageMode::Prefix => self.templates.get(&format!("{PREFIX_VARIANT}{}", access.access())),
            StorageMode::Bucket => Some(access),
        }
    }

    /// The accesses with no prefix-mode variant: refused to users in prefix mode
    /// (`VendError::NoVariant`). Empty whenever `storage.mode = "prefix"` (start-up requires
    /// every variant then); in bucket mode, users given prefixes earlier still need them.
    pub fn accesses_without_variant(&self) -> Vec<&str> {
        self.access_names()
            .filter(|a| !self.templates.contains_key(&format!("{PREFIX_VARIANT}{a}")))
            .collect()
    }

    /// The access names a request may ask for (variants excluded).
    pub fn access_names(&self) -> impl Iterator<Item = &str> {
        self.names().filter(|n| !n.starts_with(PREFIX_VARIANT))
    }

    /// The template whose rendering for `ctx` is longest, with that rendering: with the session
    /// tag, what STS packs and the first to fail with `PackedPolicyTooLarge`. (Only prefix-mode
    /// variants use `ctx.prefix`.)
    pub fn longest(&self, ctx: &RenderContext<'_>) -> Option<(&Template, String)> {
        self.templates
            .values()
            .map(|t| (t, t.render(ctx)))
            .max_by_key(|(_, p)| p.len())
    }

    /// Every template, access templates and prefix-mode variants.
    pub fn all(&self) -> impl Iterator<Item = &Template> {
        self.templates.values()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.templates.keys().map(String::as_str)
    }
}

impl Template {
    /// Parses and checks one template file.
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
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
        let body: Value = serde_json::from_str(text)
            .map_err(|e| format!("not valid JSON ({e}); placeholders are allowed only inside string values"))?;
        let statements = body.get("Statement").ok_or("a policy document needs a `Statement`")?;
        if !(statements.is_array() || statements.is_object()) {
            return Err("`Statement` must be an object or an array".to_owned());
        }
        check_placeholders(&body)?;
        let uses_prefix = text.contains("{{prefix}}");
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
        let org = ORG_PLACEHOLDERS.iter().any(|p| text.contains(p));
        let uses_org_prefix = text.contains("{{org_prefix}}");
        if !variant && uses_org_prefix {
            return Err(format!(
                "{{{{org_prefix}}}} is only for prefix-mode templates (named {PREFIX_VARIANT}<access>.json)"
            ));
        }
        if variant && text.contains("{{org_bucket}}") && !uses_org_prefix {
            return Err(
                "a prefix-mode template naming {{org_bucket}} (the shared bucket) must scope it with {{org_prefix}}"
                    .to_owned(),
            );
        }

        // The digest is of the parsed document, so reformatting the file keeps its keys.
        let id = TemplateId::new(&name, body.to_string().as_bytes());
        let template = Self {
            name,
            index: 0,
            id,
            body,
            org,
        };
        // Trial render with the longest names stsvend derives, so the size check is a bound.
        let user_id = UserId::derive("trial", "render");
        let longest_prefix = "a".repeat(crate::identity::MAX_BUCKET_PREFIX);
        let bucket = BucketName::fresh(&longest_prefix).map_err(|e| e.to_string())?;
        let account_id = AccountId::parse("123456789012").map_err(|e| e.to_string())?;
        let prefix = UserPrefix::for_user(&"a".repeat(MAX_PREFIX_ROOT), &user_id).map_err(|e| e.to_string())?;
        let org_id = OrgId::fresh().map_err(|e| e.to_string())?;
        let org_bucket = BucketName::fresh(&longest_prefix).map_err(|e| e.to_string())?;
        let org_prefix = OrgPrefix::for_org(&"a".repeat(MAX_PREFIX_ROOT), &org_id).map_err(|e| e.to_string())?;
        let rendered = template.render(&RenderContext {
            bucket: &bucket,
            user_id: &user_id,
            account_id: &account_id,
            prefix: variant.then_some(&prefix),
            org: org.then_some(OrgContext {
                id: &org_id,
                bucket: &org_bucket,
                prefix: variant.then_some(&org_prefix),
            }),
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

/// Every `{{...}}` in every string must be a known placeholder; keys may not hold any.
fn check_placeholders(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) => check_string(s),
        Value::Array(items) => items.iter().try_for_each(check_placeholders),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            if k.contains("{{") {
                return Err(format!(
                    "placeholder in key `{k}`: placeholders are allowed only in string values"
                ));
            }
            check_placeholders(v)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn check_string(s: &str) -> Result<(), String> {
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed placeholder in `{s}`"))?;
        let name = &after[..end];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder `{{{{{name}}}}}` (known: {{{{bucket}}}}, {{{{user_id}}}}, {{{{account_id}}}}, {{{{prefix}}}}, {{{{org_bucket}}}}, {{{{org_prefix}}}}, {{{{org_id}}}})"
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// The `Allow` statements of a policy document that grant S3 actions without pinning
/// `s3:ResourceAccount` to `account` (a `StringEquals` condition), by `Sid` or position.
pub fn unpinned_statements(doc: &Value, account: &AccountId) -> Vec<String> {
    let statements = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    let grants_s3 = |s: &Value| match s.get("Action") {
        Some(Value::String(a)) => a.starts_with("s3:") || a == "*",
        Some(Value::Array(items)) => items
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.starts_with("s3:") || a == "*")),
        _ => false,
    };
    statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.get("Effect").and_then(Value::as_str) == Some("Allow") && grants_s3(s))
        .filter(|(_, s)| {
            s.pointer("/Condition/StringEquals")
                .and_then(|c| c.get(ACCOUNT_CONDITION_KEY))
                .and_then(Value::as_str)
                != Some(account.as_str())
        })
        .map(|(i, s)| {
            s.get("Sid")
                .and_then(Value::as_str)
                .map_or_else(|| format!("statement {}", i + 1), ToOwned::to_owned)
        })
        .collect()
}

#[cfg(test)]
mod org_tests;
#[cfg(test)]
mod tests;
