//! The Python package `stsvend` (`clients/python`): its pytest suite, run from the project venv
//! against this stsvend and `MiniStack`, once per storage mode. Keys live 10 seconds, so the
//! suite's 64 MiB multipart upload runs on more than one set of them.

use std::time::Duration;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::support::clients::*;
use crate::support::*;

fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python")
}

/// Ten-second keys (new ones once fewer than 4 s remain), and a vend rate the suite's
/// per-request refreshes stay far below.
fn short_sessions() -> Options {
    Options::default()
        .set("STSVEND_AWS__ALLOW_SHORT_SESSIONS", "true")
        .set("STSVEND_AWS__SESSION_DURATION_SECONDS", "10")
        .set("STSVEND_AWS__MIN_REMAINING_SECONDS", "4")
        .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "6000")
        .set("STSVEND_LIMITS__VEND_BURST", "1000")
}

/// What the report pytest wrote (`--junitxml`) says about the run.
#[derive(Debug)]
struct Report {
    tests: u32,
    failures: u32,
    errors: u32,
    skipped: u32,
    cases: Vec<String>,
}

fn read_report(xml: &str) -> Report {
    let suite = xml.split("<testsuite ").nth(1).expect("a <testsuite> element");
    let attr = |name: &str| -> u32 {
        let start = suite
            .find(&format!(" {name}=\""))
            .unwrap_or_else(|| panic!("no {name} in {suite}"))
            + name.len()
            + 3;
        suite[start..].split('"').next().unwrap().parse().unwrap()
    };
    let cases = xml
        .split("<testcase ")
        .skip(1)
        .filter_map(|c| c.split(" name=\"").nth(1)?.split('"').next().map(str::to_owned))
        .collect();
    Report {
        tests: attr("tests"),
        failures: attr("failures"),
        errors: attr("errors"),
        skipped: attr("skipped"),
        cases,
    }
}

/// Runs pytest on `args` as a new user of `app` (token in a file, as `stsvend-cli token-file`
/// keeps it), with nothing of this process's environment but `PATH`; fails the test unless
/// every selected test passed and none was skipped.
async fn pytest(app: &TestApp, mode: &str, args: &[&str]) -> Report {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: scripts/test.sh makes it (scripts/ministack.sh install, clients/python/requirements-test.txt)",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(
        &token_file,
        format!("Bearer {}", app.issuer.token(&unique_sub("python"))),
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfEs", "--junitxml"])
        .arg(&junit)
        .args(args)
        .current_dir(package_dir())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("AWS_CONFIG_FILE", dir.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PYTHONPATH", package_dir().join("src"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("STSVEND_URL", &app.base)
        .env("STSVEND_TEST_TOKEN_FILE", &token_file)
        .env("STSVEND_TEST_MODE", mode)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = run(&mut cmd, Duration::from_mins(4)).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "pytest failed ({mode} mode):\n{stdout}\n{stderr}");
    let report = read_report(&std::fs::read_to_string(&junit).unwrap());
    assert_eq!(
        (report.failures, report.errors, report.skipped),
        (0, 0, 0),
        "{report:?}\n{stdout}"
    );
    assert_no_secrets(&format!("{stdout}{stderr}"), &[]);
    report
}

#[tokio::test]
async fn the_python_package_passes_its_tests_against_stsvend_on_ministack() {
    let app = TestApp::spawn_with(short_sessions()).await;
    let report = pytest(&app, "bucket", &["tests"]).await;
    assert!(report.tests >= 20, "{report:?}");
    for case in [
        "test_a_64_mib_multipart_upload_outlives_its_keys_and_arrives_whole",
        "test_presigned_urls_put_and_get_an_object_in_the_users_storage",
        "test_the_boto3_session_holds_only_stsvends_keys_and_refreshes_them",
    ] {
        assert!(report.cases.iter().any(|c| c == case), "{case} did not run: {report:?}");
    }
}

/// In a shared bucket the same suite (less the long upload) keeps to the user's prefix: every
/// key is `storage.prefix + name`, and listing the whole bucket is refused.
#[tokio::test]
async fn in_prefix_mode_the_python_package_keeps_to_the_users_prefix() {
    let (app, _shared) = TestApp::spawn_prefix(short_sessions()).await;
    let report = pytest(&app, "prefix", &["tests/test_live.py", "-k", "not outlives"]).await;
    assert_eq!(report.tests, 5, "{report:?}");
}
