//! The AWS CLI (awscli v1 from the project venv) with nothing but a profile written by
//! `stsvend-cli configure`: no AWS keys in its environment, credentials only through
//! `credential_process`.

use std::collections::BTreeMap;
use std::time::Duration;

use std::path::Path;

use tokio::process::Command;

use crate::support::auth0::{app_on_auth0, auth0_issuer};
use crate::support::clients::*;
use crate::support::*;

const FILES: usize = 240;

/// `FILES` files in nested folders, of varied sizes (empty to 20 KiB) and one 9 MiB file, which
/// the AWS CLI uploads in parts.
fn make_tree(root: &Path) {
    for i in 0..FILES {
        let dir = root.join(format!("d{}/e{}", i % 7, i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        let len = (i * 89) % 20_480;
        let body: Vec<u8> = (0..len)
            .map(|j| u8::try_from((i * 31 + j * 7) % 251).unwrap())
            .collect();
        std::fs::write(dir.join(format!("file {i}.bin")), body).unwrap();
    }
    let big: Vec<u8> = (0..9 * 1024 * 1024_usize)
        .map(|j| u8::try_from(j % 253).unwrap())
        .collect();
    std::fs::write(root.join("big.bin"), big).unwrap();
}

/// Relative path -> content for every file under `root`.
fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn aws(user: &User, args: &[&str]) -> Command {
    let mut cmd = clean_command(&aws_bin(), &user.aws_config());
    cmd.args(["--profile", "stsvend"]).args(args);
    cmd
}

/// A place the profile must not reach: an `s3://` URL ending in `/`, and what it is.
struct Elsewhere {
    url: String,
    what: &'static str,
}

#[tokio::test]
async fn the_aws_cli_syncs_a_folder_through_credential_process_and_is_denied_on_another_bucket() {
    let app = app_on_auth0().await;
    let user = User::logged_in("awscli", &app).await;
    let place = configure_and_sync(&user).await;
    let mine = user.credential_process(&[]).await;
    assert_eq!(mine["Prefix"], "");
    assert_eq!(place, format!("s3://{}/", mine["Bucket"].as_str().unwrap()));

    // Someone else's bucket: the same profile is refused, listing and writing.
    let other = TestApp::spawn().await.vend(&unique_sub("other"), None).await;
    assert_refused(
        &user,
        &[Elsewhere {
            url: format!("s3://{}/", other.bucket),
            what: "another user's bucket",
        }],
    )
    .await;
}

/// The same in prefix mode: `configure` names `s3://<shared>/<prefix>`, the sync goes under
/// it, and another user's prefix, the bucket's root and a listing without a prefix are refused.
#[tokio::test]
async fn in_prefix_mode_the_aws_cli_syncs_under_its_prefix_and_is_denied_elsewhere_in_the_shared_bucket() {
    let (app, shared) = TestApp::spawn_prefix(Options::default().set("STSVEND_AUTH__ISSUER", &auth0_issuer())).await;
    // Another user of the shared bucket, with a token from the stand-in (the app's issuer).
    let token = crate::support::auth0::user_token(&unique_sub("other"), "openid read:files write:files").await;
    let other: Vended = app.post_credentials(Some(&token), None).await.json().await.unwrap();
    let user = User::logged_in("awscli-prefix", &app).await;
    let place = configure_and_sync(&user).await;
    let prefix = place
        .strip_prefix(&format!("s3://{shared}/"))
        .unwrap_or_else(|| panic!("configure named {place}, not a prefix of {shared}"));
    assert!(prefix.starts_with("users/") && prefix.ends_with('/'), "{prefix}");
    assert_ne!(prefix, other.prefix);

    // The sync's keys are under the prefix: the listing of the place shows the folder.
    let ls = run(&mut aws(&user, &["s3", "ls", &place]), Duration::from_mins(1)).await;
    let listed = text(&ls.stdout);
    assert!(ls.status.success(), "aws s3 ls {place}: {}", text(&ls.stderr));
    assert!(listed.contains("PRE sync/"), "aws s3 ls {place}:\n{listed}");

    assert_refused(
        &user,
        &[
            Elsewhere {
                url: format!("s3://{shared}/{}", other.prefix),
                what: "another user's prefix",
            },
            Elsewhere {
                url: format!("s3://{shared}/"),
                what: "the shared bucket's root",
            },
        ],
    )
    .await;
}

/// `stsvend-cli configure` (no --region: it asks stsvend for the region and the `MiniStack`
/// endpoint), then `aws s3 sync` of a folder up to `<place>sync/` and back, compared file by
/// file. Returns the place `configure` named (`s3://<bucket>/<prefix>`).
async fn configure_and_sync(user: &User) -> String {
    let out = run(
        &mut user.cli(&["configure", "--profile", "stsvend"]),
        Duration::from_secs(30),
    )
    .await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "configure failed: {stderr}");
    let config = std::fs::read_to_string(user.aws_config()).unwrap();
    assert!(config.contains("[profile stsvend]\ncredential_process = "), "{config}");
    assert!(
        config.contains(&format!(
            "endpoint_url = {}\ns3 =\n    addressing_style = path\n",
            required_env("STSVEND_AWS__ENDPOINT_URL")
        )),
        "{config}"
    );
    let place = stderr.split_once("Your files: ").map_or_else(
        || panic!("configure did not name the place for files: {stderr}"),
        |(_, rest)| rest.lines().next().unwrap().trim().to_owned(),
    );
    assert!(place.starts_with("s3://") && place.ends_with('/'), "{place}");
    assert!(
        stderr.contains(&format!("try: aws --profile stsvend s3 ls {place}")),
        "{stderr}"
    );

    let src = user.dir.path().join("src");
    let back = user.dir.path().join("back");
    make_tree(&src);
    let target = format!("{place}sync/");
    let started = std::time::Instant::now();
    let up = run(
        &mut aws(
            user,
            &["s3", "sync", src.to_str().unwrap(), &target, "--only-show-errors"],
        ),
        Duration::from_mins(5),
    )
    .await;
    assert!(up.status.success(), "sync up failed: {}", text(&up.stderr));
    let down = run(
        &mut aws(
            user,
            &["s3", "sync", &target, back.to_str().unwrap(), "--only-show-errors"],
        ),
        Duration::from_mins(5),
    )
    .await;
    assert!(down.status.success(), "sync down failed: {}", text(&down.stderr));
    eprintln!(
        "aws s3 sync of {} files up and down: {:?}",
        FILES + 1,
        started.elapsed()
    );
    let (sent, received) = (read_tree(&src), read_tree(&back));
    assert_eq!(sent.len(), FILES + 1);
    assert_eq!(sent.keys().collect::<Vec<_>>(), received.keys().collect::<Vec<_>>());
    assert!(sent == received, "a file came back different");
    place
}

/// Each place refuses the profile: `aws s3 ls` and an `aws s3 cp` into it fail with
/// `AccessDenied`.
async fn assert_refused(user: &User, places: &[Elsewhere]) {
    let file = user.dir.path().join("src/big.bin");
    for place in places {
        for args in [
            vec!["s3".to_owned(), "ls".to_owned(), place.url.clone()],
            vec![
                "s3".to_owned(),
                "cp".to_owned(),
                file.to_str().unwrap().to_owned(),
                format!("{}stolen.bin", place.url),
            ],
        ] {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run(&mut aws(user, &args), Duration::from_mins(2)).await;
            let stderr = text(&out.stderr);
            assert!(!out.status.success(), "aws {args:?} ({}) was allowed", place.what);
            assert!(
                stderr.contains("AccessDenied"),
                "aws {args:?} ({}): {stderr}",
                place.what
            );
        }
    }
}
