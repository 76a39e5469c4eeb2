//! `serve`: what `workhorse serve` runs, on a free port announced through the port file.

mod common;

use common::GUARD;
use tokio_util::sync::CancellationToken;
use workhorse_node::{ServeOptions, serve};

#[tokio::test]
async fn serve_creates_the_database_announces_its_port_and_stops_gracefully() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let port_file = dir.path().join("port");
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: data_dir.clone(),
        port_file: Some(port_file.clone()),
        ..ServeOptions::default()
    };
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(options, shutdown.clone()));

    let addr = common::announced_address(&port_file, &server).await;
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .expect("get");
    assert!(health.status().is_success());
    assert!(data_dir.join("workhorse.db").exists());

    shutdown.cancel();
    tokio::time::timeout(GUARD, server)
        .await
        .expect("stops in time")
        .expect("task")
        .expect("served without error");
}
