//! Following a prefix: a watch from the revision last read, resumed from the
//! revision last seen after any break, so no change is ever missed.

use std::time::Duration;

use core_error::{Error, Result};
use tokio::sync::oneshot;

use super::client::WatchMessage;
use super::{EtcdClient, Remote};

/// The shortest and longest wait before watching again after a break.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

/// Stops the watch when dropped.
pub(crate) struct EtcdWatch {
    _stop: oneshot::Sender<()>,
}

/// Watches the prefix `remote` was read from, starting after its revision,
/// and calls `changed` after each change (and after a compaction, when the
/// changes since the last revision seen can no longer be listed). A break is
/// retried with backoff, from the revision last seen; the settings in force
/// stay meanwhile.
pub(crate) fn spawn(remote: &Remote, changed: impl FnMut() + Send + 'static) -> Result<EtcdWatch> {
    let client = EtcdClient::new(&remote.settings)?;
    let prefix = remote.prefix.clone();
    let revision = remote.revision;
    let (stop, stopped) = oneshot::channel();
    std::thread::Builder::new()
        .name("core-config-etcd".to_string())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    tracing::error!(error = %err, "cannot start the etcd watch");
                    return;
                }
            };
            runtime.block_on(async move {
                tokio::select! {
                    () = follow(client, prefix, revision, changed) => {}
                    _ = stopped => {}
                }
            });
        })
        .map_err(|err| Error::from(err).with_operation("config.etcd.watch"))?;
    Ok(EtcdWatch { _stop: stop })
}

async fn follow(client: EtcdClient, prefix: String, revision: i64, mut changed: impl FnMut()) {
    let mut next = revision + 1;
    let mut backoff = BACKOFF.0;
    let mut broken = false;
    loop {
        let mut compacted = false;
        let outcome = client
            .watch(&prefix, next, |message| match message {
                WatchMessage::Created => {
                    if broken {
                        tracing::info!(prefix = %prefix, from_revision = next, "etcd watch resumed");
                        broken = false;
                    }
                    backoff = BACKOFF.0;
                    true
                }
                WatchMessage::Changed { revision } => {
                    changed();
                    next = next.max(revision + 1);
                    true
                }
                WatchMessage::Compacted => {
                    compacted = true;
                    false
                }
                WatchMessage::Quiet => true,
            })
            .await;
        if compacted {
            match client.list(&prefix).await {
                Ok(listing) => {
                    tracing::warn!(
                        prefix = %prefix,
                        "etcd compacted the revisions since the last one seen; reading the prefix anew"
                    );
                    changed();
                    next = listing.revision + 1;
                    continue;
                }
                Err(err) => {
                    note_break(&mut broken, &prefix, &err);
                }
            }
        } else if let Err(err) = outcome {
            note_break(&mut broken, &prefix, &err);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

/// Logs the first failure of an outage as a warning, the retries quietly.
fn note_break(broken: &mut bool, prefix: &str, err: &Error) {
    if *broken {
        tracing::debug!(prefix = %prefix, error = %err, "etcd watch still broken; retrying");
    } else {
        tracing::warn!(
            prefix = %prefix,
            error = %err,
            "etcd watch broken; the settings in force stay, retrying with backoff"
        );
        *broken = true;
    }
}
