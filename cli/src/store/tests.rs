//! The session file, and where the refresh token goes: the keychain when it is enabled and
//! reachable, the file otherwise, found again either way. The keychain here is the in-memory
//! fake; the file is the real one.

use super::*;
use crate::keychain::fake::FakeKeychain;
use time::macros::datetime;

pub fn sample() -> Session {
    Session {
        issuer: SecureUrl::parse("http://127.0.0.1:4400/").unwrap(),
        audience: "https://stsvend.local/api".into(),
        client_id: "stsvend-cli".into(),
        scope: "openid offline_access".into(),
        api: SecureUrl::parse("http://127.0.0.1:8080").unwrap(),
        token_endpoint: SecureUrl::parse("http://127.0.0.1:4400/oauth/token").unwrap(),
        access_token: Secret::new("access-jwt"),
        refresh_token: Some(RefreshToken::Value(Secret::new("refresh-1"))),
        obtained_at: datetime!(2026-01-01 10:00 UTC),
        expires_at: datetime!(2026-01-02 10:00 UTC),
    }
}

/// A temp dir only its owner can enter (`tempfile` makes them 0755 here, which the store
/// refuses).
fn private_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

fn file_store(path: &Path) -> Store<'static> {
    Store::new(path.to_owned(), None, false)
}

fn raw(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn token(store: &Store<'_>) -> Option<String> {
    let session = store.load().unwrap();
    store.refresh_token(&session).unwrap().map(|t| t.expose().to_owned())
}

#[test]
fn a_saved_session_loads_back_and_is_private() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    let store = file_store(&path);
    assert_eq!(store.save(&sample()).unwrap(), Placement::File);
    let loaded = store.load().unwrap();
    assert_eq!(
        loaded.refresh_token,
        Some(RefreshToken::Value(Secret::new("refresh-1")))
    );
    assert_eq!(loaded.expires_at, datetime!(2026-01-02 10:00 UTC));
    assert_eq!(loaded.lifetime(), time::Duration::hours(24));
    #[cfg(unix)]
    assert_eq!(files::existing_mode(&path), Some(0o600));
}

#[test]
fn a_session_file_from_before_keychains_still_loads() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    std::fs::write(
        &path,
        r#"{"issuer":"https://t.auth0.com/","audience":"a","client_id":"stsvend-cli","scope":"openid",
            "api":"https://stsvend.example","token_endpoint":"https://t.auth0.com/oauth/token",
            "access_token":"at","refresh_token":"rt","obtained_at":"2026-01-01T10:00:00Z",
            "expires_at":"2026-01-02T10:00:00Z"}"#,
    )
    .unwrap();
    assert_eq!(token(&file_store(&path)).as_deref(), Some("rt"));
}

#[test]
fn a_missing_file_means_not_logged_in() {
    let err = file_store(Path::new("/nonexistent/stsvend/s.json")).load().unwrap_err();
    assert!(matches!(err, CliError::NotLoggedIn(_)), "{err:?}");
}

#[test]
fn a_damaged_file_asks_for_a_new_login_without_echoing_it() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    std::fs::write(&path, r#"{"access_token": "eyJsecret"#).unwrap();
    let msg = file_store(&path).load().unwrap_err().to_string();
    assert!(msg.contains("stsvend-cli login"), "{msg}");
    assert!(!msg.contains("eyJsecret"), "{msg}");
}

#[test]
fn a_session_with_a_plain_http_api_is_not_used() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    let mut json = serde_json::to_value(sample()).unwrap();
    json["api"] = "http://stsvend.example".into();
    std::fs::write(&path, json.to_string()).unwrap();
    let err = file_store(&path).load().unwrap_err();
    assert!(
        matches!(&err, CliError::CorruptSession { reason, .. } if reason.contains("must use https")),
        "{err:?}"
    );
}

#[test]
fn debug_output_has_no_tokens() {
    let text = format!("{:?}", sample());
    assert!(!text.contains("access-jwt") && !text.contains("refresh-1"), "{text}");
}

#[test]
fn an_explicit_path_wins() {
    assert_eq!(
        resolve_path(Some(Path::new("/x/y.json"))).unwrap(),
        PathBuf::from("/x/y.json")
    );
}

#[test]
fn with_a_reachable_keychain_the_refresh_token_leaves_the_file() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    let keychain = FakeKeychain::default();
    let store = Store::new(path.clone(), Some(&keychain), false);
    assert_eq!(store.save(&sample()).unwrap(), Placement::Keychain);

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("refresh-1"), "{text}");
    let account = std::path::absolute(&path).unwrap().to_string_lossy().into_owned();
    assert_eq!(
        raw(&path)["refresh_token"],
        serde_json::json!({"keychain": {"service": "stsvend-cli", "account": account}})
    );
    assert_eq!(
        keychain.entries.borrow().get(&("stsvend-cli".to_owned(), account)),
        Some(&"refresh-1".to_owned())
    );
    assert_eq!(token(&store).as_deref(), Some("refresh-1"));
}

#[test]
fn without_a_reachable_keychain_the_refresh_token_stays_in_the_file() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    let keychain = FakeKeychain::unavailable();
    let store = Store::new(path.clone(), Some(&keychain), true);
    assert_eq!(store.save(&sample()).unwrap(), Placement::File);
    assert_eq!(raw(&path)["refresh_token"], "refresh-1");
    assert_eq!(token(&store).as_deref(), Some("refresh-1"));
    #[cfg(unix)]
    assert_eq!(files::existing_mode(&path), Some(0o600));
}

#[test]
fn a_token_kept_in_the_file_is_found_once_the_keychain_is_back_and_then_moves_there() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    let keychain = FakeKeychain::unavailable();
    let store = Store::new(path.clone(), Some(&keychain), false);
    store.save(&sample()).unwrap();

    keychain.unavailable.set(false);
    assert_eq!(token(&store).as_deref(), Some("refresh-1"));
    // The next save (a refresh, with its rotated token) puts it in the keychain.
    let mut rotated = store.load().unwrap();
    rotated.refresh_token = Some(RefreshToken::Value(Secret::new("refresh-2")));
    assert_eq!(store.save(&rotated).unwrap(), Placement::Keychain);
    assert!(!std::fs::read_to_string(&path).unwrap().contains("refresh-"));
    assert_eq!(token(&store).as_deref(), Some("refresh-2"));
}

#[test]
fn a_token_in_the_keychain_is_not_looked_for_until_a_refresh_needs_it() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    let keychain = FakeKeychain::default();
    let store = Store::new(path.clone(), Some(&keychain), false);
    store.save(&sample()).unwrap();

    // Out of reach (an SSH session without the desktop's D-Bus): the session still loads and
    // its access token can be used; only the refresh fails, and says why.
    keychain.unavailable.set(true);
    let session = store.load().unwrap();
    assert_eq!(session.access_token.expose(), "access-jwt");
    let err = store.refresh_token(&session).unwrap_err();
    assert!(
        matches!(&err, CliError::Keychain(m) if m.contains("cannot be reached (no D-Bus session (fake))")),
        "{err:?}"
    );
    // Saving a session whose token did not change keeps pointing at the keychain.
    assert_eq!(store.save(&session).unwrap(), Placement::Keychain);
    keychain.unavailable.set(false);
    assert_eq!(token(&store).as_deref(), Some("refresh-1"));
}

#[test]
fn a_token_in_the_keychain_with_the_keychain_turned_off_says_so() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    let keychain = FakeKeychain::default();
    Store::new(path.clone(), Some(&keychain), false)
        .save(&sample())
        .unwrap();
    let off = file_store(&path);
    let err = off.refresh_token(&off.load().unwrap()).unwrap_err();
    assert!(
        matches!(&err, CliError::Keychain(m) if m.contains("STSVEND_CLI_KEYRING=off")),
        "{err:?}"
    );
}

#[test]
fn a_token_gone_from_the_keychain_asks_for_a_new_login() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    let keychain = FakeKeychain::default();
    let store = Store::new(path.clone(), Some(&keychain), false);
    store.save(&sample()).unwrap();
    keychain.entries.borrow_mut().clear();
    let err = store.refresh_token(&store.load().unwrap()).unwrap_err();
    assert!(err.to_string().contains("run `stsvend-cli login`"), "{err}");
}

#[test]
fn the_keychain_entry_is_found_where_the_file_says_even_after_a_move() {
    let dir = private_tempdir();
    let first = dir.path().join("a.json");
    let keychain = FakeKeychain::default();
    Store::new(first.clone(), Some(&keychain), false)
        .save(&sample())
        .unwrap();
    let moved = dir.path().join("b.json");
    std::fs::rename(&first, &moved).unwrap();
    assert_eq!(
        token(&Store::new(moved, Some(&keychain), false)).as_deref(),
        Some("refresh-1")
    );
}

#[test]
fn two_sessions_keep_two_keychain_entries() {
    let dir = private_tempdir();
    let keychain = FakeKeychain::default();
    let a = Store::new(dir.path().join("a.json"), Some(&keychain), false);
    let b = Store::new(dir.path().join("b.json"), Some(&keychain), false);
    a.save(&sample()).unwrap();
    let mut other = sample();
    other.refresh_token = Some(RefreshToken::Value(Secret::new("refresh-b")));
    b.save(&other).unwrap();
    assert_eq!(token(&a).as_deref(), Some("refresh-1"));
    assert_eq!(token(&b).as_deref(), Some("refresh-b"));
}

#[test]
fn a_session_without_a_refresh_token_clears_an_older_keychain_entry() {
    let dir = private_tempdir();
    let keychain = FakeKeychain::default();
    let store = Store::new(dir.path().join("s.json"), Some(&keychain), false);
    store.save(&sample()).unwrap();
    let mut without = sample();
    without.refresh_token = None;
    assert_eq!(store.save(&without).unwrap(), Placement::NoToken);
    assert!(keychain.entries.borrow().is_empty());
    assert_eq!(token(&store), None);
}

#[test]
fn logout_removes_the_token_from_the_keychain_and_the_file() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    let keychain = FakeKeychain::default();
    let store = Store::new(path.clone(), Some(&keychain), false);
    store.save(&sample()).unwrap();
    assert_eq!(
        store.remove().unwrap(),
        Removed {
            file: true,
            keychain: true
        }
    );
    assert!(!path.exists());
    assert!(keychain.entries.borrow().is_empty());
    assert_eq!(store.remove().unwrap(), Removed::default());
}

#[test]
fn logout_removes_a_token_kept_in_the_file_and_a_keychain_entry_left_behind() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    let keychain = FakeKeychain::default();
    let store = Store::new(path.clone(), Some(&keychain), false);
    store.save(&sample()).unwrap();
    // The session is then rewritten with the keychain out of reach: the token is in the file
    // and the older entry is stale.
    keychain.unavailable.set(true);
    let mut rotated = sample();
    rotated.refresh_token = Some(RefreshToken::Value(Secret::new("refresh-2")));
    assert_eq!(store.save(&rotated).unwrap(), Placement::File);
    keychain.unavailable.set(false);

    assert_eq!(
        store.remove().unwrap(),
        Removed {
            file: true,
            keychain: true
        }
    );
    assert!(!path.exists());
    assert!(keychain.entries.borrow().is_empty());
}

#[test]
fn logout_with_the_keychain_out_of_reach_removes_the_file_and_reports_the_leftover() {
    let dir = private_tempdir();
    let path = dir.path().join("s.json");
    let keychain = FakeKeychain::default();
    let store = Store::new(path.clone(), Some(&keychain), false);
    store.save(&sample()).unwrap();
    keychain.unavailable.set(true);
    let err = store.remove().unwrap_err();
    assert!(
        matches!(&err, CliError::Keychain(m) if m.contains("could not be removed from the OS keychain")),
        "{err:?}"
    );
    assert!(!path.exists());

    // A token that was only ever in the file: an unreachable keychain is not an error.
    let plain = dir.path().join("plain.json");
    let store = Store::new(plain.clone(), Some(&keychain), false);
    store.save(&sample()).unwrap();
    assert_eq!(
        store.remove().unwrap(),
        Removed {
            file: true,
            keychain: false
        }
    );
}

#[cfg(unix)]
#[test]
fn a_session_directory_others_can_enter_is_refused_for_reading_and_writing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = private_tempdir();
    let shared = dir.path().join("shared");
    let store = file_store(&shared.join("s.json"));
    store.save(&sample()).unwrap();
    assert_eq!(files::existing_mode(&shared), Some(0o700), "created owner-only");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o750)).unwrap();
    for err in [
        store.load().unwrap_err(),
        store.load_optional().unwrap_err(),
        store.save(&sample()).unwrap_err(),
        store.lock().err().unwrap(),
    ] {
        assert!(matches!(&err, CliError::SharedDirectory { mode: 0o750, .. }), "{err:?}");
    }
    // Logout still takes the secrets away.
    assert!(store.remove().unwrap().file);
}
