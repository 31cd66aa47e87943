//! etcd stopped and started again under a service that follows it: the
//! settings in force stay, the watch resumes from the revision it last saw,
//! and the first change after the restart arrives. A test binary of its own:
//! no other test sees the outage.

#![cfg(all(feature = "etcd", feature = "reload"))]

mod common;

use std::time::Duration;

use common::Fixture;
use core_config::{AppEnv, EtcdSettings, EtcdStore};
use core_testkit::{Service, require_service, services_script, unique_name};
use serde::Deserialize;
use tokio::time::timeout;

#[derive(Debug, Deserialize)]
struct Settings {
    workers: u32,
}

#[tokio::test]
async fn a_restarted_etcd_keeps_the_settings_and_resumes_the_watch() {
    let url = require_service!(Service::Etcd);
    let mut etcd = EtcdSettings::new([url.as_str()], "");
    etcd.prefix = format!("/config/{}/dev/", unique_name("restart"));
    let store = EtcdStore::connect(&etcd).unwrap();
    let key = format!("{}workers", etcd.prefix);
    store.put(&key, "2").unwrap();

    let fixture = Fixture::new();
    let watched = fixture
        .loader_for(AppEnv::Dev)
        .etcd(etcd.clone())
        .watch::<Settings>()
        .unwrap();
    let mut settings = watched.subscribe();

    services_script("stop", "etcd");
    // The watch breaks; nothing changes for the service meanwhile.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(watched.current().workers, 2);
    assert_eq!(watched.status().borrow().rejected, 0);
    services_script("start", "etcd");

    // Written as soon as etcd is back, possibly before the watch is: the
    // watch resumes from the last revision seen, so it cannot be missed.
    store.put(&key, "7").unwrap();
    timeout(
        Duration::from_secs(30),
        settings.wait_for(|settings| settings.workers == 7),
    )
    .await
    .expect("the change after the restart arrives")
    .unwrap();
}
