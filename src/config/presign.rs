//! `[presign]`: pre-signed URLs and browser form uploads (src/usecase/presign).

use serde::Deserialize;

/// S3 refuses a `SigV4` pre-signed URL valid for more than 7 days.
pub const S3_MAX_EXPIRES_SECONDS: u64 = 7 * 24 * 3600;
/// S3's largest single upload (a POST, like a PUT, is one request): 5 GiB.
pub const S3_MAX_UPLOAD_BYTES: u64 = 5 * 1024 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
pub struct PresignConfig {
    /// Longest `expires_in` a caller may ask for (seconds). A URL never outlives the session
    /// keys that signed it, whatever this says.
    #[serde(default = "default_max_expires_seconds")]
    pub max_expires_seconds: u64,
    /// `expires_in` when the request names none (seconds; at most `max_expires_seconds`).
    #[serde(default = "default_expires_seconds")]
    pub default_expires_seconds: u64,
    /// Largest file a browser form may upload (bytes): the policy's `content-length-range`;
    /// also the largest `content_length` a PUT URL may be signed for.
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: u64,
    /// Every PUT URL must name its `content_length` (400 `content_length_required` otherwise),
    /// so no URL uploads more than `max_upload_bytes`. Off: a PUT URL without one takes any
    /// size S3 does (5 GiB).
    #[serde(default)]
    pub require_put_length: bool,
}

impl Default for PresignConfig {
    fn default() -> Self {
        Self {
            max_expires_seconds: default_max_expires_seconds(),
            default_expires_seconds: default_expires_seconds(),
            max_upload_bytes: default_max_upload_bytes(),
            require_put_length: false,
        }
    }
}

fn default_max_expires_seconds() -> u64 {
    3600
}

fn default_expires_seconds() -> u64 {
    900
}

fn default_max_upload_bytes() -> u64 {
    100 * 1024 * 1024
}

impl PresignConfig {
    /// Every problem with the section.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(1..=S3_MAX_EXPIRES_SECONDS).contains(&self.max_expires_seconds) {
            p.push(format!(
                "presign.max_expires_seconds: {} is outside 1..={S3_MAX_EXPIRES_SECONDS} (S3 refuses longer URLs)",
                self.max_expires_seconds
            ));
        }
        if !(1..=self.max_expires_seconds).contains(&self.default_expires_seconds) {
            p.push(format!(
                "presign.default_expires_seconds: {} is outside 1..=presign.max_expires_seconds",
                self.default_expires_seconds
            ));
        }
        if !(1..=S3_MAX_UPLOAD_BYTES).contains(&self.max_upload_bytes) {
            p.push(format!(
                "presign.max_upload_bytes: {} is outside 1..={S3_MAX_UPLOAD_BYTES} (S3's largest single upload)",
                self.max_upload_bytes
            ));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::shipped as load;

    #[test]
    fn the_shipped_section_is_the_default() {
        let c = load(&[]).unwrap();
        assert_eq!(c.presign.max_expires_seconds, 3600);
        assert_eq!(c.presign.default_expires_seconds, 900);
        assert_eq!(c.presign.max_upload_bytes, 100 * 1024 * 1024);
        assert!(!c.presign.require_put_length);
    }

    #[test]
    fn put_lengths_can_be_required() {
        let c = load(&[("STSVEND_PRESIGN__REQUIRE_PUT_LENGTH", "true")]).unwrap();
        assert!(c.presign.require_put_length);
        let err = load(&[("STSVEND_PRESIGN__REQUIRE_PUT_LENGTH", "sometimes")]).unwrap_err();
        assert!(err.contains("require_put_length"), "{err}");
    }

    #[test]
    fn limits_beyond_what_s3_honours_are_refused_together() {
        let err = load(&[
            ("STSVEND_PRESIGN__MAX_EXPIRES_SECONDS", "604801"),
            ("STSVEND_PRESIGN__MAX_UPLOAD_BYTES", "0"),
        ])
        .unwrap_err();
        assert!(err.contains("presign.max_expires_seconds: 604801 is outside"), "{err}");
        assert!(err.contains("presign.max_upload_bytes: 0 is outside"), "{err}");
    }

    #[test]
    fn a_default_expiry_above_the_maximum_is_refused() {
        let err = load(&[
            ("STSVEND_PRESIGN__MAX_EXPIRES_SECONDS", "60"),
            ("STSVEND_PRESIGN__DEFAULT_EXPIRES_SECONDS", "900"),
        ])
        .unwrap_err();
        assert!(err.contains("presign.default_expires_seconds: 900"), "{err}");
    }

    #[test]
    fn unknown_keys_in_the_section_are_refused() {
        let err = load(&[("STSVEND_PRESIGN__MAX_BYTES", "1")]).unwrap_err();
        assert!(err.contains("unknown key `presign.max_bytes`"), "{err}");
    }
}
