//! The loaded folder of templates: every file parsed and checked together, the set checked
//! against `[policies]` (every template granted, every grant present, prefix-mode variants when
//! needed) and `[orgs]`, and the lookups a session needs (an access, its variant for a mode).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::claims::DeclaredClaims;
use super::{PREFIX_VARIANT, PolicyError, RenderContext, Template};
use crate::config::StorageMode;
use crate::identity::ClaimValue;

/// All templates, by access name.
#[derive(Debug, Clone)]
pub struct PolicySet {
    pub(super) templates: BTreeMap<String, Template>,
    /// `[policies.claims]`: what templates may name, and how long each value may be.
    declared: DeclaredClaims,
}

impl PolicySet {
    /// Loads and checks every `*.json` in `dir`; `required` names (from config) must exist.
    /// Returns every problem found, not just the first.
    pub fn load(dir: &Path, required: &[&str]) -> Result<Self, Vec<PolicyError>> {
        Self::load_with(dir, required, DeclaredClaims::default())
    }

    /// [`PolicySet::load`], the templates naming the `declared` claims.
    pub fn load_with(dir: &Path, required: &[&str], declared: DeclaredClaims) -> Result<Self, Vec<PolicyError>> {
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
            match Template::parse_with(&path, &text, &declared) {
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
            Ok(Self { templates, declared })
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
        let mut set = Self::load_with(&policies.dir, &[], DeclaredClaims::of(&policies.claims))?;
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

    /// True when `[policies.claims]` declares any claim (templates or session tags may use it).
    pub fn declares_claims(&self) -> bool {
        !self.declared.is_empty()
    }

    /// Every declared claim at its longest value: what the trial renders and the trial
    /// `AssumeRole` fill `{{claims.NAME}}` with, so their sizes are bounds.
    pub fn trial_claims(&self) -> Vec<(Box<str>, ClaimValue)> {
        self.declared.longest_values()
    }

    /// Every template, access templates and prefix-mode variants.
    pub fn all(&self) -> impl Iterator<Item = &Template> {
        self.templates.values()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.templates.keys().map(String::as_str)
    }
}
