//! The container route: the AWS CLI's container credentials provider fetching keys from
//! `GET /v1/credentials/container` with the token file a running `stsvend-cli token-file` keeps.

use std::time::Duration;

use super::*;

#[tokio::test]
async fn the_aws_cli_fetches_keys_from_the_container_route_with_the_token_file_stsvend_cli_keeps() {
    let app = app_on_auth0().await;
    let user = User::logged_in("container", &app).await;
    let vended = user.credential_process(&[]).await;
    let (bucket, region) = (vended["Bucket"].as_str().unwrap(), vended["Region"].as_str().unwrap());

    // The refresh loop, as a container sidecar would run it.
    let token_file = user.dir.path().join("run/token");
    let mut keeper = user.cli(&["token-file", "--path", token_file.to_str().unwrap()]);
    keeper.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut keeper = keeper.spawn().unwrap();
    let mut keeper_log = BufReader::new(keeper.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), keeper_log.next_line())
        .await
        .expect("token-file reports its first write")
        .unwrap()
        .unwrap_or_default();
    assert!(first.contains("next refresh in"), "{first}");
    assert!(std::fs::read_to_string(&token_file).unwrap().starts_with("Bearer eyJ"));

    // An AWS config with no credentials at all: only where the bucket is.
    std::fs::write(
        user.aws_config(),
        format!(
            "[default]\nregion = {region}\nendpoint_url = {}\ns3 =\n    addressing_style = path\n",
            required_env("STSVEND_AWS__ENDPOINT_URL")
        ),
    )
    .unwrap();
    let file = user.dir.path().join("hello.txt");
    std::fs::write(&file, "from a container").unwrap();
    let aws = |args: &[&str]| {
        let mut cmd = clean_command(&aws_bin(), &user.aws_config());
        cmd.args(args)
            .env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("{}/v1/credentials/container", app.base),
            )
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file);
        cmd
    };
    let target = format!("s3://{bucket}/container/hello.txt");
    let up = run(
        &mut aws(&["s3", "cp", file.to_str().unwrap(), &target]),
        Duration::from_mins(1),
    )
    .await;
    assert!(up.status.success(), "aws s3 cp failed: {}", text(&up.stderr));
    let down = run(&mut aws(&["s3", "cp", &target, "-"]), Duration::from_mins(1)).await;
    assert!(down.status.success(), "aws s3 cp back failed: {}", text(&down.stderr));
    assert_eq!(text(&down.stdout), "from a container");

    keeper.kill().await.unwrap();
}
