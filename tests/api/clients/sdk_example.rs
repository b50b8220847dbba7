//! The aws-sdk-rust example `bulk_upload`, its credentials provider calling stsvend with the
//! token `stsvend-cli token-file` keeps.

use std::time::Duration;

use super::*;

#[tokio::test]
async fn the_rust_sdk_example_uploads_a_folder_into_the_users_bucket() {
    let app = app_on_auth0().await;
    let user = User::logged_in("sdk", &app).await;
    let token_file = user.dir.path().join("token");
    let out = run(
        &mut user.cli(&["token-file", "--path", token_file.to_str().unwrap(), "--once"]),
        Duration::from_secs(30),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bucket = user.credential_process(&[]).await["Bucket"]
        .as_str()
        .unwrap()
        .to_owned();

    let src = user.dir.path().join("photos");
    let mut expected = Vec::new();
    for i in 0..60 {
        let dir = src.join(format!("album{}", i % 4));
        std::fs::create_dir_all(&dir).unwrap();
        let body = vec![b'a' + u8::try_from(i % 26).unwrap(); i * 100];
        std::fs::write(dir.join(format!("p{i}.jpg")), &body).unwrap();
        expected.push((
            format!("up/album{}/p{i}.jpg", i % 4),
            i64::try_from(body.len()).unwrap(),
        ));
    }
    expected.sort();

    let mut cmd = clean_command(&example_bin("bulk_upload"), &user.aws_config());
    cmd.arg(&src)
        .arg("up/")
        .env("STSVEND_URL", &app.base)
        .env("STSVEND_TOKEN_FILE", &token_file);
    let out = run(&mut cmd, Duration::from_mins(2)).await;
    assert!(out.status.success(), "bulk_upload failed: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("uploaded 60 files (177000 bytes) to s3://{bucket}/up/")),
        "{}",
        text(&out.stdout)
    );

    let listed = service_s3()
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("up/")
        .send()
        .await
        .unwrap();
    let mut found: Vec<(String, i64)> = listed
        .contents()
        .iter()
        .map(|o| (o.key().unwrap().to_owned(), o.size().unwrap()))
        .collect();
    found.sort();
    assert_eq!(found, expected);
}
