//! Hot reload: watch the config files and publish each valid new version.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use core_error::{Error, Result};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::Loader;
use crate::loader::CONFIG_FOLDER;

/// Counts of what reloading has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadStatus {
    /// Reloads that passed validation and were published.
    pub applied: u64,
    /// Reloads rejected; the previous settings stayed in force.
    pub rejected: u64,
    /// The error of the last rejected reload (secrets already removed).
    pub last_error: Option<String>,
}

/// Settings that follow their files: see [`Loader::watch`].
///
/// Dropping it stops the watching.
pub struct Watched<T> {
    settings: watch::Receiver<Arc<T>>,
    status: watch::Receiver<ReloadStatus>,
    /// `None` when the settings were loaded once and are not followed.
    watcher: Option<RecommendedWatcher>,
    /// The watch on etcd's prefix, when the settings came from there too.
    #[cfg(feature = "etcd")]
    _etcd: Option<crate::source::etcd::watch::EtcdWatch>,
}

impl<T> Watched<T> {
    /// A receiver of the settings: `borrow()` for the current value,
    /// `changed().await` to wait for the next valid one.
    pub fn subscribe(&self) -> watch::Receiver<Arc<T>> {
        self.settings.clone()
    }

    /// The settings now in force.
    pub fn current(&self) -> Arc<T> {
        Arc::clone(&self.settings.borrow())
    }

    /// A receiver of the reload counts, to see rejections.
    pub fn status(&self) -> watch::Receiver<ReloadStatus> {
        self.status.clone()
    }

    /// Whether the files are watched: false when
    /// [`watch_if_enabled`](Loader::watch_if_enabled) found `config.watch` off.
    pub fn is_watching(&self) -> bool {
        self.watcher.is_some()
    }
}

impl Loader {
    /// Loads the settings, then watches `config/default.*`, `config/<env>.*`,
    /// `.env.<env>` and `.secrets` and reloads on every change.
    ///
    /// A reload that fails (bad syntax, a violated rule, a value that does not
    /// decrypt) is logged with `tracing::error!` and counted in
    /// [`Watched::status`]; the previous settings stay in force. The
    /// environment is fixed at the first load. Changes are gathered for the
    /// loader's debounce period (100 ms) before reloading, so an editor's
    /// several writes give one reload. The `config/` folder must exist when
    /// watching starts for its files to be watched.
    ///
    /// ```no_run
    /// # async fn run() -> core_error::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Settings { workers: u32 }
    ///
    /// let watched = core_config::Loader::new().watch::<Settings>()?;
    /// let mut settings = watched.subscribe();
    /// while settings.changed().await.is_ok() {
    ///     println!("now {} workers", settings.borrow().workers);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch<T>(&self) -> Result<Watched<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let first = self.load::<T>()?;
        self.follow(first)
    }

    /// Loads the settings and, when the setting
    /// [`config.watch`](crate::WATCH_SETTING) is on, follows their files as
    /// [`watch`](Loader::watch) does; when it is off or unset, the settings
    /// are loaded once and [`Watched::is_watching`] is false.
    ///
    /// ```
    /// use core_config::{AppEnv, Loader};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Settings { workers: u32 }
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let loader = Loader::new().dir(dir.path()).env(AppEnv::Dev);
    /// let once = loader
    ///     .clone()
    ///     .environment([("APP__WORKERS", "4")])
    ///     .watch_if_enabled::<Settings>()
    ///     .unwrap();
    /// assert!(!once.is_watching());
    /// assert_eq!(once.current().workers, 4);
    ///
    /// let followed = loader
    ///     .environment([("APP__WORKERS", "4"), ("APP__CONFIG__WATCH", "true")])
    ///     .watch_if_enabled::<Settings>()
    ///     .unwrap();
    /// assert!(followed.is_watching());
    /// ```
    pub fn watch_if_enabled<T>(&self) -> Result<Watched<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let first = self.load::<T>()?;
        if first.tree().get_bool(crate::WATCH_SETTING) == Some(true) {
            return self.follow(first);
        }
        let (_, settings) = watch::channel(Arc::new(first.into_settings()));
        let (_, status) = watch::channel(ReloadStatus::default());
        Ok(Watched {
            settings,
            status,
            watcher: None,
            #[cfg(feature = "etcd")]
            _etcd: None,
        })
    }

    fn follow<T>(&self, first: crate::Loaded<T>) -> Result<Watched<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let env = first.env();
        let loader = self.clone().env(env);
        let names = loader.watched_names(env);
        #[cfg(feature = "etcd")]
        let remote = first.remote.clone();
        let (settings_tx, settings_rx) = watch::channel(Arc::new(first.into_settings()));
        let (status_tx, status_rx) = watch::channel(ReloadStatus::default());
        let settings_tx = Arc::new(settings_tx);
        let status_tx = Arc::new(status_tx);

        // etcd's changes take the same path as the files': a full, validated
        // reload, so a key can never bypass the rules.
        #[cfg(feature = "etcd")]
        let etcd = match remote {
            Some(remote) => {
                let (loader, settings_tx, status_tx) = (
                    loader.clone(),
                    Arc::clone(&settings_tx),
                    Arc::clone(&status_tx),
                );
                Some(crate::source::etcd::watch::spawn(&remote, move || {
                    reload(&loader, &settings_tx, &status_tx);
                })?)
            }
            None => None,
        };

        let (events_tx, events_rx) = mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(events_tx).map_err(watch_error)?;
        let folder = loader.folder().to_path_buf();
        watcher
            .watch(&folder, RecursiveMode::NonRecursive)
            .map_err(watch_error)?;
        let config_folder = folder.join(CONFIG_FOLDER);
        if config_folder.is_dir() {
            watcher
                .watch(&config_folder, RecursiveMode::NonRecursive)
                .map_err(watch_error)?;
        }

        let debounce = loader.debounce;
        thread::Builder::new()
            .name("core-config-reload".to_string())
            .spawn(move || {
                // Ends when the watcher, and with it the sender, is dropped.
                while let Ok(event) = events_rx.recv() {
                    if !concerns(&event, &names) {
                        continue;
                    }
                    // Gather the rest of a burst of writes, within reason.
                    for _ in 0..50 {
                        if events_rx.recv_timeout(debounce).is_err() {
                            break;
                        }
                    }
                    if settings_tx.is_closed() {
                        break;
                    }
                    reload(&loader, &settings_tx, &status_tx);
                }
            })
            .map_err(|err| Error::from(err).with_operation("config.watch"))?;

        Ok(Watched {
            settings: settings_rx,
            status: status_rx,
            watcher: Some(watcher),
            #[cfg(feature = "etcd")]
            _etcd: etcd,
        })
    }
}

fn reload<T: DeserializeOwned>(
    loader: &Loader,
    settings: &watch::Sender<Arc<T>>,
    status: &watch::Sender<ReloadStatus>,
) {
    match loader.load::<T>() {
        Ok(loaded) => {
            // Counted first, so whoever sees the new settings sees the count.
            status.send_modify(|status| status.applied += 1);
            metrics::counter!("config_reloads_total", "outcome" => "applied").increment(1);
            settings.send_replace(Arc::new(loaded.into_settings()));
            tracing::info!(folder = %loader.folder().display(), "configuration reloaded");
        }
        Err(err) => {
            metrics_rejected();
            tracing::error!(
                folder = %loader.folder().display(),
                error = %err,
                "configuration reload rejected; the previous settings stay in force"
            );
            status.send_modify(|status| {
                status.rejected += 1;
                status.last_error = Some(err.to_string());
            });
        }
    }
}

fn metrics_rejected() {
    metrics::counter!("config_reloads_total", "outcome" => "rejected").increment(1);
}

fn concerns(event: &notify::Result<notify::Event>, names: &[String]) -> bool {
    let Ok(event) = event else {
        return false;
    };
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    event.paths.iter().any(|path| {
        Path::new(path)
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| names.iter().any(|watched| watched == name))
    })
}

fn watch_error(err: notify::Error) -> Error {
    Error::unavailable(format!("cannot watch the config files: {err}"))
        .with_operation("config.watch")
        .with_temporary(false)
}
