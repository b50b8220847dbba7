//! What `stsvend serve` refuses to start with, naming the problem: STS's tag limits, the
//! service's own tags, an undeclared `{{claims.x}}`, a pattern that does not compile or could
//! admit a value AWS or IAM would read.

use super::TIERED;
use crate::support::process::{POLICIES, serve_expecting_failure, shipped_config};

const TIER: &str = "\n[policies.claims.tier]\nclaim = \"https://example.com/tier\"\npattern = \"^(free|pro)$\"\n";

/// `stsvend serve` on the shipped config.toml with `extra` appended and the templates of
/// `policies_dir`: its exit code and stderr (start-up must fail).
fn serve_with(extra: &str, policies_dir: &str) -> (i32, String) {
    serve_expecting_failure(&format!("{}\n{extra}", shipped_config()), policies_dir)
}

#[test]
fn tag_and_claim_settings_outside_stss_limits_stop_start_up_naming_the_problem() {
    let many = (0..49).fold(String::new(), |mut s, i| {
        use std::fmt::Write;
        let _ = writeln!(s, "t{i} = \"https://example.com/tier\"");
        s
    });
    let cases = [
        (
            "a tag key over 128 characters",
            format!(
                "{TIER}[sts.session_tags]\n{} = \"https://example.com/tier\"\n",
                "k".repeat(129)
            ),
            "must be 1-128 ASCII letters",
        ),
        (
            "51 tags with the service's two",
            format!("{TIER}[sts.session_tags]\n{many}"),
            "sts.session_tags: 49 tags, and 2 of the service's own (stsvend-user, stsvend-org); STS takes at most 50 in all",
        ),
        (
            "a key of AWS's own",
            format!("{TIER}[sts.session_tags]\n\"aws:tier\" = \"https://example.com/tier\"\n"),
            "the `aws:` prefix is AWS's own",
        ),
        (
            "the service's own tag",
            format!("{TIER}[sts.session_tags]\nstsvend-org = \"https://example.com/tier\"\n"),
            "key `stsvend-org` is the service's own tag",
        ),
        (
            "a tag of an undeclared claim",
            "[sts.session_tags]\ndepartment = \"https://example.com/department\"\n".to_owned(),
            "claim `https://example.com/department` is not declared in [policies.claims]",
        ),
        (
            "a pattern that does not compile",
            TIER.replace("^(free|pro)$", "^(free|pro$"),
            "policies.claims.tier.pattern: not a regular expression",
        ),
        (
            "a pattern admitting `*`",
            TIER.replace("^(free|pro)$", "[a-z*]{1,8}"),
            "policies.claims.tier.pattern: admits '*'",
        ),
        (
            "a pattern admitting values over 256 characters",
            TIER.replace("^(free|pro)$", "[a-z]+"),
            "policies.claims.tier.pattern: admits values of any length",
        ),
    ];
    for (what, extra, want) in cases {
        let (code, stderr) = serve_with(&extra, POLICIES);
        assert_ne!(code, 0, "{what}: started");
        assert!(stderr.contains(want), "{what}: `{want}` not in {stderr}");
    }
}

#[test]
fn a_template_naming_an_undeclared_claim_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(POLICIES).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("tiered.json"),
        TIERED.replace("claims.tier", "claims.x"),
    )
    .unwrap();
    let (code, stderr) = serve_with(TIER, dir.path().to_str().unwrap());
    assert_ne!(code, 0, "started");
    assert!(
        stderr.contains("tiered.json: `{{claims.x}}` names a claim not declared in [policies.claims]"),
        "{stderr}"
    );
}
