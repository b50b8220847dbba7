//! What only the `PostgreSQL` backend does: TLS to the server, and a listener that comes back
//! after its connection is cut. Needs `scripts/postgres.sh` (see `store::test_db`).

use std::io::Write;
use std::time::Duration;

use super::changes::LISTENER_NAME;
use crate::config::DatabaseConfig;
use crate::store::test_db::{CA_VAR, URL_VAR, admin, required_env, with_sslmode};
use crate::store::{Store, StoreError};

fn tls_config(ca_file: Option<std::path::PathBuf>) -> DatabaseConfig {
    DatabaseConfig {
        path: "unused.db".into(),
        url: Some(with_sslmode(&required_env(URL_VAR), "require")),
        ca_file,
    }
}

#[tokio::test]
async fn sslmode_require_connects_over_tls_to_a_server_the_ca_file_vouches_for() {
    let config = tls_config(Some(required_env(CA_VAR).into()));
    let store = Store::connect(&config).await.expect("TLS with the private CA");
    let Store::Postgres(pg) = &store else {
        panic!("a postgres:// URL selects PostgreSQL")
    };
    let row = pg
        .client()
        .await
        .unwrap()
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "the connection is encrypted");
}

#[tokio::test]
async fn sslmode_require_refuses_a_server_certificate_no_trusted_ca_signed() {
    let other = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut params = other;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(ca.pem().as_bytes()).unwrap();

    for (ca_file, what) in [
        (Some(file.path().to_path_buf()), "another CA's file"),
        (None, "the system roots alone"),
    ] {
        let refused = Store::connect(&tls_config(ca_file)).await;
        let Err(e) = refused else {
            panic!("connected with {what}")
        };
        assert!(
            matches!(e, StoreError::Postgres(_)),
            "refused with {what} at the TLS handshake: {e}"
        );
        let shown = e.to_string();
        assert!(shown.contains("certificate"), "says why: {shown}");
    }
}

#[tokio::test]
async fn the_listener_reconnects_after_its_connection_is_cut_and_wakes_again() {
    let (db_url, name) = {
        let server = required_env(URL_VAR);
        let name = format!("stsvend_t_{}", uuid::Uuid::new_v4().simple());
        admin(&server, &format!("CREATE DATABASE {name}")).await;
        (crate::store::test_db::with_database(&server, &name), name)
    };
    let config = DatabaseConfig {
        path: "unused.db".into(),
        url: Some(db_url.clone()),
        ca_file: None,
    };
    let (a, b) = (
        Store::connect(&config).await.unwrap(),
        Store::connect(&config).await.unwrap(),
    );
    let signal = b.change_signal().unwrap();
    let wait = || tokio::time::timeout(Duration::from_secs(10), signal.notified());
    wait().await.expect("listening");

    admin(
        &db_url,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = '{LISTENER_NAME}' AND datname = current_database()"
        ),
    )
    .await;
    wait().await.expect("listening again after the cut");
    let id = crate::identity::UserId::derive("https://i/", "auth0|a");
    a.set_disabled(&id, true).await.unwrap();
    wait().await.expect("woken by a change after reconnecting");
    drop((a, b));
    crate::store::test_db::drop_database(&name).await;
}

#[tokio::test]
async fn calls_recover_once_the_servers_connections_are_cut() {
    let server = required_env(URL_VAR);
    let name = format!("stsvend_t_{}", uuid::Uuid::new_v4().simple());
    admin(&server, &format!("CREATE DATABASE {name}")).await;
    let db_url = crate::store::test_db::with_database(&server, &name);
    let config = DatabaseConfig {
        path: "unused.db".into(),
        url: Some(db_url.clone()),
        ca_file: None,
    };
    let store = Store::connect(&config).await.unwrap();
    store.ping().await.unwrap();
    // As a server restart does: every connection of this database ends.
    admin(
        &db_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .await;
    let started = std::time::Instant::now();
    while store.ping().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(5), "the pool never reconnected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = crate::identity::UserId::derive("https://i/", "auth0|a");
    assert!(store.user(&id).await.unwrap().is_none(), "queries work again");
    drop(store);
    crate::store::test_db::drop_database(&name).await;
}
