//! Keys that are also read under an earlier name, so configuration files and environments
//! written for it still load. The earlier name is moved to the current one in the parsed table
//! before the sections are read, the file's keys and the environment's alike, so an override
//! under either name replaces a file value under either name.

/// (section, earlier key, current key). `bucket_prefix` became `bucket_name_prefix` so that
/// "prefix" alone always means a user's or organisation's storage prefix.
const RENAMED: [(&str, &str, &str); 1] = [("storage", "bucket_prefix", "bucket_name_prefix")];

/// The current name of `key` in the section path `sections`.
pub(super) fn current<'a>(sections: &[String], key: &'a str) -> &'a str {
    match sections {
        [section] => RENAMED
            .iter()
            .find(|(s, earlier, _)| s == section && *earlier == key)
            .map_or(key, |(_, _, now)| now),
        _ => key,
    }
}

/// True when `key` in the section path `sections` is also read under an earlier name.
pub(super) fn has_earlier_name(sections: &[String], key: &str) -> bool {
    matches!(sections, [section] if RENAMED.iter().any(|(s, _, now)| s == section && *now == key))
}

/// Moves every key of the file's table under an earlier name to its current one; a file
/// setting both is refused rather than one silently winning.
pub(super) fn in_file(table: &mut toml::Table) -> Vec<String> {
    let mut problems = Vec::new();
    for (section, earlier, now) in RENAMED {
        let Some(toml::Value::Table(keys)) = table.get_mut(section) else {
            continue;
        };
        let Some(value) = keys.remove(earlier) else {
            continue;
        };
        if keys.contains_key(now) {
            problems.push(format!(
                "{section}.{earlier} and {section}.{now} are both set: {earlier} is the earlier name of {now}; keep one"
            ));
        } else {
            keys.insert(now.to_owned(), value);
        }
    }
    problems
}
