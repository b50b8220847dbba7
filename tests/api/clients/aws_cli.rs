//! The AWS CLI (awscli v1 from the project venv) with nothing but a profile written by
//! `stsvend-cli configure`: no AWS keys in its environment, credentials only through
//! `credential_process`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

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

#[tokio::test]
async fn the_aws_cli_syncs_a_folder_through_credential_process_and_is_denied_on_another_bucket() {
    let app = app_on_auth0().await;
    let user = User::logged_in("awscli", &app).await;

    // No --region: configure asks stsvend for the region and the (MiniStack) endpoint.
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
    let bucket = stderr.split_once("Your bucket: s3://").map_or_else(
        || panic!("configure did not name the bucket: {stderr}"),
        |(_, rest)| rest.lines().next().unwrap().trim().to_owned(),
    );

    let src = user.dir.path().join("src");
    let back = user.dir.path().join("back");
    make_tree(&src);
    let target = format!("s3://{bucket}/sync/");
    let started = std::time::Instant::now();
    let up = run(
        &mut aws(
            &user,
            &["s3", "sync", src.to_str().unwrap(), &target, "--only-show-errors"],
        ),
        Duration::from_mins(5),
    )
    .await;
    assert!(up.status.success(), "sync up failed: {}", text(&up.stderr));
    let down = run(
        &mut aws(
            &user,
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

    // Someone else's bucket: the same profile is refused, listing and writing.
    let other = TestApp::spawn().await.vend(&unique_sub("other"), None).await;
    for args in [
        vec!["s3", "ls", &format!("s3://{}/", other.bucket)],
        vec![
            "s3",
            "cp",
            src.join("big.bin").to_str().unwrap(),
            &format!("s3://{}/stolen.bin", other.bucket),
        ],
    ] {
        let out = run(&mut aws(&user, &args), Duration::from_mins(2)).await;
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "aws {args:?} was allowed");
        assert!(stderr.contains("AccessDenied"), "aws {args:?}: {stderr}");
    }
}
