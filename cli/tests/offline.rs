//! The binary as users run it, without any server: usage, the not-logged-in path and
//! `configure` with an explicit region. (Building this test also makes cargo build the
//! `stsvend-cli` binary itself, which the service's client tests in tests/api run.)

use std::process::{Command, Output};

fn cli(args: &[&str], envs: &[(&str, &std::path::Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stsvend-cli"));
    cmd.args(args)
        .env_remove("STSVEND_CLI_STORE")
        .env_remove("AWS_CONFIG_FILE");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn help_lists_every_subcommand() {
    let out = cli(&["--help"], &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in ["login", "credential-process", "token-file", "configure"] {
        assert!(text.contains(sub), "{sub} missing from:\n{text}");
    }
}

#[test]
fn credential_process_without_a_session_says_to_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("none.json");
    let out = cli(&["credential-process"], &[("STSVEND_CLI_STORE", &store)]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("not logged in") && err.contains("stsvend-cli login"),
        "{err}"
    );
    assert!(!store.exists());
}

#[test]
fn configure_with_a_region_writes_a_profile_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aws/config");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[profile keep]\nregion = ap-south-1\n").unwrap();
    let store = dir.path().join("my session.json");
    let args = [
        "configure",
        "--profile",
        "files",
        "--region",
        "eu-central-1",
        "--endpoint-url",
        "http://127.0.0.1:4566",
        "--token-store",
        store.to_str().unwrap(),
    ];
    let out = cli(&args, &[("AWS_CONFIG_FILE", &config)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first = std::fs::read_to_string(&config).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_stsvend-cli")).unwrap();
    let expected = format!(
        "[profile keep]\nregion = ap-south-1\n\n[profile files]\ncredential_process = {} credential-process \
         --token-store '{}'\nregion = eu-central-1\nendpoint_url = http://127.0.0.1:4566\ns3 =\n    \
         addressing_style = path\n",
        exe.display(),
        store.display()
    );
    assert_eq!(first, expected);
    assert!(cli(&args, &[("AWS_CONFIG_FILE", &config)]).status.success());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), first);
}
