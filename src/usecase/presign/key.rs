//! Object keys as a caller names them: relative to their own storage, parsed once at the edge.
//!
//! A key is S3's: any UTF-8 up to 1024 bytes. stsvend refuses three things S3 would take:
//! control characters (they hide in logs and break headers), and path segments that are
//! exactly `.` or `..`. Those are names S3 would store literally, but every URL parser that
//! follows the WHATWG or RFC 3986 rules (browsers, curl, reqwest, most proxies) removes dot
//! segments, `%2e` and `%2E` spellings included, before sending: in a path-style URL
//! `/<bucket>/../<other bucket>/x` would leave the user's bucket. Refusing them is the only
//! way a URL stsvend signs reaches exactly the object it names, through any client.

use std::fmt;

/// S3's limit on a key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is empty")]
    Empty,
    #[error("the key is {0} bytes; at most 1024 bytes of UTF-8 are allowed")]
    TooLong(usize),
    #[error("the key contains a control character ({0}); control characters are not allowed")]
    Control(String),
    #[error("the key has a `.` or `..` path segment, which URL clients rewrite; use another name")]
    DotSegment,
    /// Prefix mode: the key goes under the user's prefix, and S3 limits the whole key.
    #[error("the key under your prefix `{prefix}` would be {total} bytes; S3 allows at most 1024")]
    TooLongUnderPrefix { total: usize, prefix: String },
    /// A form names its key, or a prefix its file name is appended to: one of them.
    #[error("give either `key` or `key_prefix`")]
    KeyOrPrefix,
}

/// A key within the caller's own storage (bucket, or prefix in prefix mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey(String);

/// The start of keys a browser form may upload to; may be empty (anywhere in the storage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrefix(String);

impl ObjectKey {
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        if s.is_empty() {
            return Err(KeyError::Empty);
        }
        check(s, true)?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl KeyPrefix {
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        // A prefix ends where the browser's file name begins, so its last segment is checked
        // too: `..` + `${filename}` would still be a `..`-led name, but never a lone `..`
        // segment; only complete segments are refused.
        check(s, false)?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The common rules. `last_is_whole`: the final segment is a complete name (a key), not the
/// start of one (a prefix).
fn check(s: &str, last_is_whole: bool) -> Result<(), KeyError> {
    if s.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong(s.len()));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(KeyError::Control(format!("U+{:04X}", u32::from(c))));
    }
    let segments: Vec<&str> = s.split('/').collect();
    let whole = if last_is_whole {
        &segments[..]
    } else {
        &segments[..segments.len() - 1]
    };
    if whole.iter().any(|seg| *seg == "." || *seg == "..") {
        return Err(KeyError::DotSegment);
    }
    Ok(())
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_keys_are_kept_as_written() {
        for k in [
            "a",
            "photos/2026/cat.jpg",
            "with space and ümlaut/日本.txt",
            "a+b=c&d?e#f",
            "%2e%2e/encoded-dots-are-just-characters",
            "...",
            "..hidden",
            "dir/.config",
            "/leading-slash",
            "double//slash",
            "http://127.0.0.1:4566/other-bucket/x",
            "back\\slash",
        ] {
            assert_eq!(ObjectKey::parse(k).unwrap().as_str(), k);
        }
    }

    #[test]
    fn a_key_of_1024_bytes_is_accepted_and_1025_refused() {
        let max = "é".repeat(512);
        assert_eq!(max.len(), 1024);
        assert!(ObjectKey::parse(&max).is_ok());
        assert_eq!(ObjectKey::parse(&format!("{max}a")), Err(KeyError::TooLong(1025)));
    }

    #[test]
    fn an_empty_key_is_refused() {
        assert_eq!(ObjectKey::parse(""), Err(KeyError::Empty));
    }

    #[test]
    fn control_characters_are_refused_and_named() {
        for (k, named) in [
            ("a\nb", "U+000A"),
            ("a\0", "U+0000"),
            ("tab\there", "U+0009"),
            ("del\u{7f}", "U+007F"),
            ("c1\u{85}", "U+0085"),
        ] {
            assert_eq!(ObjectKey::parse(k), Err(KeyError::Control(named.to_owned())), "{k:?}");
        }
    }

    #[test]
    fn dot_segments_are_refused_wherever_they_stand() {
        for k in ["..", ".", "../x", "a/../b", "a/./b", "a/..", "a/.", "./a"] {
            assert_eq!(ObjectKey::parse(k), Err(KeyError::DotSegment), "{k}");
        }
    }

    #[test]
    fn a_prefix_may_be_empty_or_end_in_the_start_of_a_name() {
        assert_eq!(KeyPrefix::parse("").unwrap().as_str(), "");
        assert!(KeyPrefix::parse("uploads/").is_ok());
        assert!(KeyPrefix::parse("uploads/..").is_ok(), "`..` + a file name is one name");
        assert_eq!(KeyPrefix::parse("../uploads/"), Err(KeyError::DotSegment));
        assert_eq!(KeyPrefix::parse("a\rb"), Err(KeyError::Control("U+000D".to_owned())));
    }
}
