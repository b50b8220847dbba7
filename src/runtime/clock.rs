//! The service's one notion of time: whole-second UTC instants, written as RFC 3339
//! (`2026-11-30T05:00:00Z`, as AWS SDKs and the database both read them).

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Now, truncated to the whole second (what the database and the audit record).
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Seconds since the Unix epoch (token `exp`/`iat` checks).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// RFC 3339 in UTC; an instant in another offset is converted first.
pub fn format_time(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

/// `None` for text that is not RFC 3339.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The first whole second after `t`: a revocation cut-off, since STS issue times are whole
/// seconds.
pub fn next_second(t: OffsetDateTime) -> OffsetDateTime {
    let whole = t.replace_nanosecond(0).unwrap_or(t);
    whole + time::Duration::seconds(1)
}

/// Returns once the clock has reached `t` (at once if it has), so that sessions issued from
/// then on carry an issue time at or after a cut-off.
pub async fn sleep_until(t: OffsetDateTime) {
    if let Ok(wait) = std::time::Duration::try_from(t - OffsetDateTime::now_utc()) {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_utc_and_read_back() {
        let t = time::macros::datetime!(2026-11-30 06:00:00 +01:00);
        assert_eq!(format_time(t), "2026-11-30T05:00:00Z");
        assert_eq!(parse_time("2026-11-30T05:00:00Z"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn now_has_no_fraction_of_a_second() {
        assert_eq!(now().nanosecond(), 0);
    }

    #[test]
    fn revocation_time_is_the_next_whole_second() {
        let t = time::macros::datetime!(2026-11-30 09:00:00.250 UTC);
        assert_eq!(next_second(t), time::macros::datetime!(2026-11-30 09:00:01 UTC));
        let exact = time::macros::datetime!(2026-11-30 09:00:00 UTC);
        assert_eq!(next_second(exact), time::macros::datetime!(2026-11-30 09:00:01 UTC));
    }
}
