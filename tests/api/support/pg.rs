//! `PostgreSQL` for the fleet tests: a fresh database per test on the server scripts/test.sh
//! starts (`STSVEND_TEST_DATABASE_URL`, from `scripts/postgres.sh env`); a test fails when it
//! is missing.

use std::net::SocketAddr;
use std::path::PathBuf;

use stsvend::config::DatabaseConfig;
use stsvend::store::Store;

const URL_VAR: &str = "STSVEND_TEST_DATABASE_URL";

fn server() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: run the suite with scripts/test.sh (it starts PostgreSQL with scripts/postgres.sh)"
        )
    })
}

/// `url` naming database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let query = tail.split_once('?').map_or(String::new(), |(_, q)| format!("?{q}"));
    format!("{scheme}://{authority}/{name}{query}")
}

/// The URL of a new, empty database on the test server.
pub async fn fresh_database() -> String {
    let server = server();
    let name = format!("stsvend_it_{}", uuid::Uuid::new_v4().simple());
    let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {URL_VAR}: {e}"));
    let driver = tokio::spawn(connection);
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    drop(client);
    let _ = driver.await;
    with_database(&server, &name)
}

/// The server's address, for a relay in front of it.
pub fn server_addr() -> SocketAddr {
    let url = server();
    let authority = url.split_once("://").unwrap().1;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host_port = &host_port[..host_port.find(['/', '?']).unwrap_or(host_port.len())];
    host_port
        .parse()
        .unwrap_or_else(|_| panic!("{URL_VAR} must name 127.0.0.1:<port>"))
}

/// `url` reaching its server through `via` instead.
pub fn through(url: &str, via: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host_and_rest) = rest.rsplit_once('@').map_or(("", rest), |(u, h)| (u, h));
    let path_at = host_and_rest.find(['/', '?']).unwrap_or(host_and_rest.len());
    let at = if userinfo.is_empty() {
        String::new()
    } else {
        format!("{userinfo}@")
    };
    format!("{scheme}://{at}{via}{}", &host_and_rest[path_at..])
}

/// A store on `url`, as a replica opens it.
pub async fn store(url: &str) -> Store {
    Store::connect(&DatabaseConfig {
        path: PathBuf::from("unused.db"),
        url: Some(url.to_owned()),
        ca_file: None,
    })
    .await
    .unwrap()
}
