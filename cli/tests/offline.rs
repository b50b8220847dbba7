//! The binary as users run it, without any server: usage, the not-logged-in path and
//! `configure` with an explicit region. (Building this test also makes cargo build the
//! `stsvend-cli` binary itself, which the service's client tests in tests/api run.)

use std::process::{Command, Output};

fn cli(args: &[&str], envs: &[(&str, &std::path::Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stsvend-cli"));
    cmd.args(args)
        .env_remove("STSVEND_CLI_STORE")
        .env_remove("AWS_CONFIG_FILE")
        // Never the desktop's keychain: every session these tests make lives in a temp dir.
        .env("STSVEND_CLI_KEYRING", "off");
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
    for sub in ["login", "credential-process", "token-file", "configure", "logout"] {
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
         --token-store '{}' --keyring off\nregion = eu-central-1\nendpoint_url = http://127.0.0.1:4566\ns3 =\n    \
         addressing_style = path\n",
        exe.display(),
        store.display()
    );
    assert_eq!(first, expected);
    assert!(cli(&args, &[("AWS_CONFIG_FILE", &config)]).status.success());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), first);
}

/// A temp dir only its owner can enter, as a session's directory must be (`tempfile` may make
/// them 0755).
fn private_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

/// What a user sees from a refused command: its exit code and stderr.
fn refused(out: &Output) -> (Option<i32>, String) {
    assert!(out.stdout.is_empty(), "nothing on stdout");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A stand-in identity provider on 127.0.0.1 that serves one discovery document and refuses
/// every other request with an OAuth error, so no test ever gets past the device code request.
/// Returns its base URL (`http://127.0.0.1:PORT`, no trailing slash).
fn fake_issuer(issuer_in_document: impl Fn(&str) -> String + Send + 'static) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc_base = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let _ = reader.by_ref().take(length).read_to_end(&mut Vec::new());
            let (status, body) = if request_line.contains("/.well-known/openid-configuration") {
                let doc = serde_json::json!({
                    "issuer": issuer_in_document(&doc_base),
                    "token_endpoint": format!("{doc_base}/oauth/token"),
                    "device_authorization_endpoint": format!("{doc_base}/oauth/device/code"),
                });
                ("200 OK", doc.to_string())
            } else {
                (
                    "400 Bad Request",
                    r#"{"error":"invalid_request","error_description":"fake issuer"}"#.to_owned(),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

/// A session file as `login` writes it with the keychain off (or out of reach).
const SESSION: &str = r#"{"issuer": "https://t.auth0.com/", "audience": "https://stsvend.local/api",
    "client_id": "stsvend-cli", "scope": "openid offline_access", "api": "https://stsvend.example",
    "token_endpoint": "https://t.auth0.com/oauth/token", "access_token": "at", "refresh_token": "rt",
    "obtained_at": "2026-01-01T10:00:00Z", "expires_at": "2026-01-02T10:00:00Z"}"#;

fn login(issuer: &str, api: &str, store: &std::path::Path) -> Output {
    cli(
        &[
            "login",
            "--issuer",
            issuer,
            "--audience",
            "https://stsvend.local/api",
            "--api",
            api,
        ],
        &[("STSVEND_CLI_STORE", store)],
    )
}

#[test]
fn login_accepts_plain_http_on_loopback_and_a_matching_issuer() {
    let dir = private_tempdir();
    let base = fake_issuer(|base| format!("{base}/"));
    let out = login(&format!("{base}/"), "http://127.0.0.1:8080", &dir.path().join("s.json"));
    let (code, err) = refused(&out);
    // Discovery passed; the stand-in then refuses the device code request.
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("invalid_request (fake issuer)"), "{err}");
}

#[test]
fn login_refuses_plain_http_to_another_host_before_sending_anything() {
    let dir = private_tempdir();
    let base = fake_issuer(|base| format!("{base}/"));
    let store = dir.path().join("s.json");
    for (issuer, api, flag) in [
        (format!("{base}/"), "http://stsvend.example".to_owned(), "--api"),
        (format!("{base}/"), "http://localhost.evil.example".to_owned(), "--api"),
        (
            "http://127.0.0.1.evil.example/".to_owned(),
            "https://stsvend.example".to_owned(),
            "--issuer",
        ),
        (
            "http://127.0.0.1@evil.example/".to_owned(),
            "https://stsvend.example".to_owned(),
            "--issuer",
        ),
    ] {
        let (code, err) = refused(&login(&issuer, &api, &store));
        assert_eq!(code, Some(2), "{issuer} {api}: {err}");
        assert!(err.contains(&format!("{flag} must use https")), "{err}");
        assert!(
            err.contains("127.0.0.0/8"),
            "says what plain http is allowed for: {err}"
        );
    }
    assert!(!store.exists());
}

#[test]
fn login_refuses_a_discovery_document_that_names_another_issuer() {
    let dir = private_tempdir();
    let store = dir.path().join("s.json");
    let base = fake_issuer(|_| "https://attacker.example/".to_owned());
    let (code, err) = refused(&login(&format!("{base}/"), "https://stsvend.example", &store));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("issuer") && err.contains("https://attacker.example/") && err.contains(&format!("{base}/")),
        "{err}"
    );
    assert!(!store.exists());
}

#[test]
fn an_issuer_without_the_trailing_slash_is_refused_with_the_exact_value_to_pass() {
    let dir = private_tempdir();
    let base = fake_issuer(|base| format!("{base}/"));
    let (code, err) = refused(&login(&base, "https://stsvend.example", &dir.path().join("s.json")));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("--issuer {base}/")), "{err}");
}

#[cfg(unix)]
#[test]
fn a_session_directory_other_users_can_read_is_refused_with_the_chmod_to_run() {
    use std::os::unix::fs::PermissionsExt;
    let dir = private_tempdir();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = shared.join("session.json");
    std::fs::write(&store, SESSION).unwrap();
    let (code, err) = refused(&cli(&["credential-process"], &[("STSVEND_CLI_STORE", &store)]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("chmod 700 {}", shared.display())), "{err}");
}

#[test]
fn logout_removes_a_session_kept_in_the_file_and_is_quiet_when_there_is_none() {
    let dir = private_tempdir();
    let store = dir.path().join("session.json");
    std::fs::write(&store, SESSION).unwrap();
    let out = cli(&["logout"], &[("STSVEND_CLI_STORE", &store)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("Logged out: removed {}", store.display())),
        "{err}"
    );
    assert!(!store.exists());
    let again = cli(&["logout"], &[("STSVEND_CLI_STORE", &store)]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("Not logged in"));
}

/// Shell completions and the man page are generated from the clap definition, so every
/// subcommand is in them; neither touches a session (no store is given here).
#[test]
fn completions_and_the_man_page_name_every_subcommand() {
    let subcommands = ["login", "credential-process", "token-file", "configure", "logout"];
    for shell in ["bash", "zsh", "fish"] {
        let out = cli(&["completions", shell], &[]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        for sub in subcommands {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let out = cli(&["man"], &[]);
    assert!(out.status.success(), "{out:?}");
    // roff escapes hyphens (`\-`).
    let page = String::from_utf8(out.stdout).unwrap().replace("\\-", "-");
    assert!(page.contains(".TH stsvend-cli"), "{page}");
    for sub in subcommands {
        assert!(page.contains(sub), "the man page lacks {sub}");
    }
}

/// One HTTP/1.1 request read off `stream`: its request line and body.
fn read_request(stream: &std::net::TcpStream) -> (String, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    let _ = reader.read_line(&mut request_line);
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = Vec::new();
    let _ = reader.take(length).read_to_end(&mut body);
    (request_line, String::from_utf8_lossy(&body).into_owned())
}

/// Request lines and bodies a test server received.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A server on 127.0.0.1 that answers every request with `status` and `headers` (and a token
/// response body), and keeps each request's line and body. Returns its base URL and the record.
fn recording_server(status: &'static str, headers: String) -> (String, Received) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            record.lock().unwrap().push(read_request(&stream));
            let body = r#"{"access_token":"stolen-at","refresh_token":"stolen-rt","expires_in":3600}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\n{headers}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, seen)
}

#[test]
fn a_redirect_from_the_token_endpoint_is_not_followed_with_the_refresh_token() {
    let dir = private_tempdir();
    // Another origin (same host, another port) that would take the refresh token.
    let (elsewhere, received) = recording_server("200 OK", String::new());
    let (issuer, asked) = recording_server(
        "307 Temporary Redirect",
        format!("location: {elsewhere}/oauth/token\r\n"),
    );
    let store = dir.path().join("session.json");
    // An expired access token: credential-process refreshes first.
    let session = SESSION
        .replace("https://t.auth0.com/oauth/token", &format!("{issuer}/oauth/token"))
        .replace("\"rt\"", "\"rt-secret-7f3a\"")
        .replace("2026-01-02T10:00:00Z", "2026-01-01T10:05:00Z");
    std::fs::write(&store, session).unwrap();

    let (code, err) = refused(&cli(&["credential-process"], &[("STSVEND_CLI_STORE", &store)]));
    assert_eq!(asked.lock().unwrap().len(), 1, "the token endpoint was asked once");
    let forwarded = received.lock().unwrap().clone();
    assert!(
        forwarded.is_empty(),
        "the redirect was followed to {elsewhere}: {forwarded:?}"
    );
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains("redirect") && err.contains(&format!("{elsewhere}/oauth/token")),
        "says where it was sent and that it did not go: {err}"
    );
    assert!(!err.contains("rt-secret-7f3a"), "{err}");
}
