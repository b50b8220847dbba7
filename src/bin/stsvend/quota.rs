//! `stsvend users quota` / `stsvend orgs quota`: an owner's quota override from a terminal
//! (`PUT /admin/v1/{users,orgs}/{id}/quota`), each limit a whole number or `unlimited`.

use serde_json::{Value, json};

/// One limit as given on the command line: a whole number of bytes or objects, or `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<u64>);

/// `unlimited`, or a whole number (`_` separators allowed: `5_000_000_000`).
pub fn parse_limit(s: &str) -> Result<Limit, String> {
    if s.eq_ignore_ascii_case("unlimited") {
        return Ok(Limit(None));
    }
    s.replace('_', "")
        .parse::<u64>()
        .ok()
        .filter(|n| i64::try_from(*n).is_ok())
        .map(|n| Limit(Some(n)))
        .ok_or_else(|| format!("`{s}` is neither a whole number (0 to 2^63-1) nor `unlimited`"))
}

/// The override body.
pub fn body(bytes: Limit, objects: Limit) -> Value {
    json!({"bytes": bytes.0, "objects": objects.0})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_whole_numbers_or_unlimited() {
        assert_eq!(parse_limit("5_000"), Ok(Limit(Some(5000))));
        assert_eq!(parse_limit("0"), Ok(Limit(Some(0))));
        assert_eq!(parse_limit("Unlimited"), Ok(Limit(None)));
        for bad in ["-1", "1.5", "5GB", "", "9223372036854775808"] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
        assert_eq!(
            body(Limit(Some(10)), Limit(None)),
            json!({"bytes": 10, "objects": null})
        );
    }
}
