//! The SDK end to end on embedded backends: no server needed.
//!
//! `cargo run --example quickstart`
//!
//! config → log → database → cache → queue → auth, each from one settings
//! section. Point `APP__DATABASE__URL`, `APP__CACHE__URL` or `APP__MQ__URL`
//! at PostgreSQL, Redis or RabbitMQ (with the matching cargo feature) and the
//! same code runs on servers.

use std::time::Duration;

use core_sdk::auth::jwt::KeyRing;
use core_sdk::auth::password::Passwords;
use core_sdk::auth::tokens::TokenService;
use core_sdk::config::{AppEnv, Loader};
use core_sdk::db::DatabaseBase as _;
use core_sdk::error::Result;
use core_sdk::mq::{ConsumeOptions, Message, Outcome, handler_fn};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};

/// The service's settings: one section per building block.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Settings {
    log: core_sdk::log::LogSettings,
    database: core_sdk::db::DatabaseSettings,
    cache: core_sdk::cache::CacheSettings,
    mq: core_sdk::mq::MqSettings,
    auth: core_sdk::auth::AuthSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: i64,
    name: String,
}

#[tokio::main]
async fn main() -> Result<()> {
    // 1. Configuration: config/, .env.<env>, .secrets and APP__* variables,
    //    layered; without APP_ENV this is a local run.
    let loaded = Loader::new()
        .fallback_env(AppEnv::Local)
        .load::<Settings>()?;
    let env = loaded.env();
    let mut settings = loaded.into_settings();
    println!("1. config    loaded for the {env:?} environment");

    // 2. Logging: text for people here, JSON lines in production.
    let _log = core_sdk::log::init(&settings.log)?;
    tracing::info!(env = ?env, "quickstart starting");
    println!(
        "2. log       {:?} to stdout, level {}",
        settings.log.format, settings.log.level
    );

    // 3. Database: SQLite in ./data unless the settings name another one.
    if settings.database.url.expose_secret()
        == core_sdk::db::DatabaseSettings::default()
            .url
            .expose_secret()
    {
        std::fs::create_dir_all("data")?;
        settings.database =
            core_sdk::db::DatabaseSettings::from_url("sqlite://data/quickstart.db?mode=rwc");
    }
    let db = core_sdk::db::connect(&settings.database).await?;
    let sql = db.sql()?;
    sql.query(
        "CREATE TABLE IF NOT EXISTS quickstart_users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
    )
    .execute()
    .await?;
    sql.transaction(|tx| {
        Box::pin(async move {
            tx.query("DELETE FROM quickstart_users").execute().await?;
            tx.query("INSERT INTO quickstart_users (id, name) VALUES (?, ?)")
                .bind(1_i64)
                .bind("Ada")
                .execute()
                .await?;
            Ok(())
        })
    })
    .await?;
    let (name,): (String,) = sql
        .query("SELECT name FROM quickstart_users WHERE id = ?")
        .bind(1_i64)
        .fetch_one()
        .await?;
    println!(
        "3. database  {} holds user 1 = {name}",
        sql.pool().backend()
    );

    // 4. Cache: read-through, loading each key once however many callers ask.
    let cache = core_sdk::cache::connect(&settings.cache).await?;
    let user: User = cache
        .get_or_set("user:1", Some(Duration::from_secs(60)), || async {
            let (id, name): (i64, String) = sql
                .query("SELECT id, name FROM quickstart_users WHERE id = ?")
                .bind(1_i64)
                .fetch_one()
                .await?;
            Ok(User { id, name })
        })
        .await?;
    let again: Option<User> = cache.get("user:1").await?;
    println!(
        "4. cache     {} served {user:?}; cached copy present: {}",
        cache.backend().name(),
        again.is_some()
    );

    // 5. Queue: publish an event and handle it, at least once, in a group.
    let queue = core_sdk::mq::connect(&settings.mq).await?;
    let (handled, mut received) = tokio::sync::mpsc::unbounded_channel();
    let consumer = queue
        .consume(
            "users.created",
            "welcome-mailer",
            handler_fn(move |delivery| {
                let handled = handled.clone();
                async move {
                    let user: User = delivery.message.decode_json()?;
                    let _ = handled.send(user);
                    Ok(Outcome::Ack)
                }
            }),
            ConsumeOptions::default(),
        )
        .await?;
    queue
        .publish(Message::json("users.created", &user)?)
        .await?;
    let welcomed = tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .ok()
        .flatten();
    consumer.shutdown(Duration::from_secs(5)).await?;
    println!(
        "5. queue     {} delivered users.created for {:?}",
        queue.name(),
        welcomed.map(|u| u.name)
    );

    // 6. Auth: a password hash and a token pair whose revocations live in the cache.
    let passwords = Passwords::recommended();
    let hash = passwords.hash("correct horse battery staple")?;
    let password_ok = passwords.verify("correct horse battery staple", &hash)?;
    if settings.auth.jwt.secret.is_none() && settings.auth.jwt.keys.is_empty() {
        // A throwaway signing key for this run; services configure theirs.
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        settings.auth.jwt.secret = Some(secret.into());
    }
    let keys = std::sync::Arc::new(KeyRing::from_settings(&settings.auth.jwt)?);
    let tokens = TokenService::new(keys, cache.clone(), &settings.auth.tokens)?;
    let pair = tokens.issue("user-1", &["admin".to_string()], &[]).await?;
    let principal = tokens.authenticate(&pair.access_token).await?;
    tokens.logout(&pair.refresh_token).await?;
    let after_logout = tokens.authenticate(&pair.access_token).await.is_err();
    println!(
        "6. auth      password verified: {password_ok}; token for {} with roles {:?}; rejected after logout: {after_logout}",
        principal.subject, principal.roles
    );

    sql.close().await;
    tracing::info!("quickstart finished");
    Ok(())
}
