//! Adds or updates one profile in the AWS shared config file (`~/.aws/config` or
//! `$AWS_CONFIG_FILE`), leaving every other section and line as it was.
//!
//! The keys written here are owned by `configure` and replaced on every run, so running it
//! twice gives the same file; other keys in the profile and nested `s3` settings other than
//! `addressing_style` are kept.

use std::path::PathBuf;

use crate::error::CliError;

/// Top-level keys `configure` owns in its profile.
const OWNED: [&str; 4] = ["credential_process", "region", "endpoint_url", "s3"];
const INDENT: &str = "    ";

#[derive(Debug)]
pub struct Profile {
    pub name: String,
    pub credential_process: String,
    pub region: String,
    /// A non-AWS S3 endpoint (`MiniStack`, a proxy): set as `endpoint_url`, with path-style
    /// addressing, since such endpoints rarely serve `<bucket>.<host>` names.
    pub endpoint_url: Option<String>,
}

impl Profile {
    fn header(&self) -> String {
        if self.name == "default" {
            "[default]".to_owned()
        } else {
            format!("[profile {}]", self.name)
        }
    }

    fn is_header(&self, line: &str) -> bool {
        let Some(inner) = line.trim().strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
            return false;
        };
        let words: Vec<&str> = inner.split_whitespace().collect();
        match words.as_slice() {
            ["default"] => self.name == "default",
            ["profile", name] => self.name != "default" && *name == self.name,
            _ => false,
        }
    }
}

/// `$AWS_CONFIG_FILE`, else `~/.aws/config`.
pub fn config_path() -> Result<PathBuf, CliError> {
    if let Some(p) = std::env::var_os("AWS_CONFIG_FILE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = etcetera::home_dir()
        .map_err(|_| CliError::Usage("cannot find your home directory; set AWS_CONFIG_FILE".into()))?;
    Ok(home.join(".aws").join("config"))
}

/// Quotes `word` for a POSIX shell when needed: botocore splits `credential_process` with
/// `shlex` and aws-sdk-rust runs it with `sh -c`, so both read single quotes.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn key_of(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t']) || line.trim_start().starts_with(['#', ';']) {
        return None;
    }
    line.split_once('=').map(|(k, _)| k.trim())
}

fn is_continuation(line: &str) -> bool {
    line.starts_with([' ', '\t']) && !line.trim().is_empty()
}

/// `text` with `profile` added or updated.
pub fn upsert(text: &str, profile: &Profile) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| profile.is_header(l)) else {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if !out.trim().is_empty() {
            out.push('\n');
        }
        out.push_str(&profile.header());
        out.push('\n');
        for line in owned_lines(profile, &[]) {
            out.push_str(&line);
            out.push('\n');
        }
        return out;
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .map_or(lines.len(), |i| start + 1 + i);

    // Split the section body into the lines we keep and the nested s3 settings we keep.
    let mut kept = Vec::new();
    let mut s3_kept = Vec::new();
    let mut current_owned: Option<&str> = None;
    for line in &lines[start + 1..end] {
        if let Some(key) = key_of(line) {
            current_owned = OWNED.contains(&key).then_some(key);
            if current_owned.is_none() {
                kept.push((*line).to_owned());
            }
        } else if is_continuation(line) && current_owned.is_some() {
            let nested = line.trim();
            let nested_key = nested.split_once('=').map(|(k, _)| k.trim());
            if current_owned == Some("s3") && nested_key != Some("addressing_style") {
                s3_kept.push(nested.to_owned());
            }
        } else {
            if !line.trim().is_empty() {
                current_owned = None;
            }
            kept.push((*line).to_owned());
        }
    }

    let mut out: Vec<String> = lines[..=start].iter().map(|l| (*l).to_owned()).collect();
    out.extend(owned_lines(profile, &s3_kept));
    out.extend(kept);
    out.extend(lines[end..].iter().map(|l| (*l).to_owned()));
    let mut text = out.join("\n");
    text.push('\n');
    text
}

fn owned_lines(profile: &Profile, s3_kept: &[String]) -> Vec<String> {
    let mut out = vec![
        format!("credential_process = {}", profile.credential_process),
        format!("region = {}", profile.region),
    ];
    if let Some(url) = &profile.endpoint_url {
        out.push(format!("endpoint_url = {url}"));
    }
    let mut nested: Vec<String> = Vec::new();
    if profile.endpoint_url.is_some() {
        nested.push("addressing_style = path".to_owned());
    }
    nested.extend(s3_kept.iter().cloned());
    if !nested.is_empty() {
        out.push("s3 =".to_owned());
        out.extend(nested.into_iter().map(|n| format!("{INDENT}{n}")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, endpoint: Option<&str>) -> Profile {
        Profile {
            name: name.to_owned(),
            credential_process: "/usr/local/bin/stsvend-cli credential-process".to_owned(),
            region: "eu-west-1".to_owned(),
            endpoint_url: endpoint.map(str::to_owned),
        }
    }

    #[test]
    fn a_new_profile_is_appended_after_the_others() {
        let before = "[default]\nregion = us-east-1\n\n[profile work]\nsso_session = corp\n";
        let after = upsert(before, &profile("stsvend", Some("http://127.0.0.1:4566")));
        assert_eq!(
            after,
            "[default]\nregion = us-east-1\n\n[profile work]\nsso_session = corp\n\n[profile stsvend]\n\
             credential_process = /usr/local/bin/stsvend-cli credential-process\nregion = eu-west-1\n\
             endpoint_url = http://127.0.0.1:4566\ns3 =\n    addressing_style = path\n"
        );
    }

    #[test]
    fn an_empty_file_gets_just_the_profile() {
        let after = upsert("", &profile("default", None));
        assert_eq!(
            after,
            "[default]\ncredential_process = /usr/local/bin/stsvend-cli credential-process\nregion = eu-west-1\n"
        );
    }

    #[test]
    fn running_twice_changes_nothing() {
        let before = "# mine\n[profile stsvend]\noutput = json\n\n[profile other]\nregion = ap-south-1\n";
        let p = profile("stsvend", Some("http://h:1"));
        let once = upsert(before, &p);
        assert_eq!(upsert(&once, &p), once);
    }

    #[test]
    fn an_existing_profile_is_updated_in_place_keeping_other_keys_and_sections() {
        let before = "[profile stsvend]\nregion = us-east-1\noutput = json\ncredential_process = old\n\
                      s3 =\n  max_concurrent_requests = 20\n  addressing_style = virtual\n\
                      cli_pager =\n\n[profile other]\nregion = ap-south-1\ns3 =\n  addressing_style = virtual\n";
        let after = upsert(before, &profile("stsvend", Some("http://h:1")));
        assert_eq!(
            after,
            "[profile stsvend]\ncredential_process = /usr/local/bin/stsvend-cli credential-process\n\
             region = eu-west-1\nendpoint_url = http://h:1\ns3 =\n    addressing_style = path\n    \
             max_concurrent_requests = 20\noutput = json\ncli_pager =\n\n[profile other]\n\
             region = ap-south-1\ns3 =\n  addressing_style = virtual\n"
        );
    }

    #[test]
    fn moving_back_to_aws_drops_the_endpoint_and_path_style() {
        let p = profile("stsvend", Some("http://h:1"));
        let local = upsert("", &p);
        let aws = upsert(&local, &profile("stsvend", None));
        assert!(
            !aws.contains("endpoint_url") && !aws.contains("addressing_style"),
            "{aws}"
        );
    }

    #[test]
    fn the_default_profile_is_found_by_its_own_header() {
        let before = "[profile default]\nregion = x\n[default]\nregion = y\n";
        let after = upsert(before, &profile("default", None));
        assert!(
            after.starts_with("[profile default]\nregion = x\n[default]\ncredential_process"),
            "{after}"
        );
    }

    #[test]
    fn paths_with_spaces_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("/usr/bin/stsvend-cli"), "/usr/bin/stsvend-cli");
        assert_eq!(shell_quote("/Users/a b/cli"), "'/Users/a b/cli'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
