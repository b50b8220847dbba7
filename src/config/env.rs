//! `STSVEND_<SECTION>__<KEY>` environment overrides, applied to the parsed TOML table.

use super::{ENV_PREFIX, SECTIONS, renamed};

/// Applies `STSVEND_<SECTION>__<KEY>=value` pairs. A value is read as a TOML value when it
/// parses as one (numbers, booleans, arrays), else taken as a plain string.
pub(super) fn apply_env(table: &mut toml::Table, env: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    // Variables naming a renamed key under each of its names: with both set, which one wins
    // would depend on the environment's order.
    let mut renamed_by: Vec<(Vec<String>, &str)> = Vec::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if !rest.contains("__") {
            // Other STSVEND_* variables (STSVEND_CONFIG, the scripts' own) are not overrides,
            // but a section name followed by one underscore is almost surely a typo.
            let lower = rest.to_ascii_lowercase();
            if SECTIONS.iter().any(|s| lower.starts_with(&format!("{s}_"))) {
                problems.push(format!(
                    "environment `{name}`: overrides are {ENV_PREFIX}<SECTION>__<KEY>, with two underscores"
                ));
            }
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            problems.push(format!("environment `{name}`: expected {ENV_PREFIX}<SECTION>__<KEY>"));
            continue;
        }
        let (sections, key) = path.split_at(path.len() - 1);
        let key = renamed::current(sections, &key[0]);
        if renamed::has_earlier_name(sections, key) {
            let path = [sections, &[key.to_owned()]].concat();
            if let Some((_, other)) = renamed_by.iter().find(|(p, n)| *p == path && *n != name.as_str()) {
                problems.push(format!("environment `{name}` and `{other}` set the same key; keep one"));
            }
            renamed_by.push((path, name));
        }
        if let Err(section) = set_path(table, sections, key, parse_env_value(raw)) {
            problems.push(format!("environment `{name}`: `{section}` is not a section"));
        }
    }
    problems
}

fn set_path(table: &mut toml::Table, sections: &[String], key: &str, value: toml::Value) -> Result<(), String> {
    match sections.split_first() {
        None => {
            table.insert(key.to_owned(), value);
            Ok(())
        }
        Some((first, rest)) => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let inner = entry.as_table_mut().ok_or_else(|| first.clone())?;
            set_path(inner, rest, key, value)
        }
    }
}

fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}
