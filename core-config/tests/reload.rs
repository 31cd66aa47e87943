//! Hot reload of a valid and of an invalid change.

#![cfg(feature = "reload")]

mod common;

use std::time::Duration;

use common::Fixture;
use core_config::{AppEnv, rules};
use serde::Deserialize;
use tokio::time::timeout;

#[derive(Debug, Deserialize, PartialEq)]
struct Settings {
    workers: u32,
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_valid_change_is_published() {
    let fixture = Fixture::new();
    fixture.write("config/default.toml", "workers = 2\n");
    let watched = fixture.loader_for(AppEnv::Dev).watch::<Settings>().unwrap();
    let mut settings = watched.subscribe();
    assert_eq!(settings.borrow().workers, 2);

    fixture.write("config/default.toml", "workers = 8\n");
    timeout(WAIT, settings.changed()).await.unwrap().unwrap();
    assert_eq!(settings.borrow().workers, 8);
    assert_eq!(watched.current().workers, 8);
    assert_eq!(watched.status().borrow().applied, 1);

    // Variables files are watched too.
    fixture.write(".env.dev", "APP__WORKERS=5\n");
    timeout(WAIT, settings.changed()).await.unwrap().unwrap();
    assert_eq!(settings.borrow().workers, 5);
}

#[tokio::test]
async fn an_invalid_change_is_rejected_and_the_previous_value_stays() {
    let fixture = Fixture::new();
    fixture.write("config/default.toml", "workers = 2\n");
    let watched = fixture
        .loader_for(AppEnv::Dev)
        .rule(rules::range("workers", 1..=16))
        .watch::<Settings>()
        .unwrap();
    let mut settings = watched.subscribe();
    let mut status = watched.status();

    // Out of range: the rule rejects it.
    fixture.write("config/default.toml", "workers = 99\n");
    timeout(WAIT, status.changed()).await.unwrap().unwrap();
    {
        let now = status.borrow_and_update();
        assert_eq!((now.applied, now.rejected), (0, 1));
        assert!(now.last_error.as_deref().unwrap().contains("workers"));
    }
    assert_eq!(settings.borrow().workers, 2);

    // Not even TOML: rejected too.
    fixture.write("config/default.toml", "workers = = \n");
    timeout(WAIT, status.changed()).await.unwrap().unwrap();
    assert_eq!(status.borrow_and_update().rejected, 2);
    assert_eq!(settings.borrow().workers, 2);
    assert!(!settings.has_changed().unwrap());

    // And a later good file is taken.
    fixture.write("config/default.toml", "workers = 3\n");
    timeout(WAIT, settings.changed()).await.unwrap().unwrap();
    assert_eq!(settings.borrow().workers, 3);
    assert_eq!(status.borrow().applied, 1);
}

#[tokio::test]
async fn watch_if_enabled_follows_the_files_only_when_config_watch_is_on() {
    for (watch, followed) in [("false", false), ("true", true)] {
        let fixture = Fixture::new();
        fixture.write("config/default.toml", "workers = 1\n");
        fixture.write(".env.dev", &format!("APP__CONFIG__WATCH={watch}\n"));
        let watched = fixture
            .loader_for(AppEnv::Dev)
            .watch_if_enabled::<Settings>()
            .unwrap();
        assert_eq!(watched.is_watching(), followed, "config.watch={watch}");
        let mut settings = watched.subscribe();
        fixture.write("config/default.toml", "workers = 2\n");
        let changed = timeout(WAIT, settings.changed()).await;
        if followed {
            changed.unwrap().unwrap();
            assert_eq!(watched.current().workers, 2);
        } else {
            assert!(
                !matches!(changed, Ok(Ok(()))),
                "reloaded with config.watch=false"
            );
            assert_eq!(watched.current().workers, 1);
        }
    }
}
