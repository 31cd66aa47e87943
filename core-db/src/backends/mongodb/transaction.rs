//! MongoDB multi-document transactions.

use std::borrow::Borrow;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use core_error::{Error, ErrorKind, Result};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use mongodb::ClientSession;
use mongodb::bson::{Bson, Document};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Collection, DocumentStore, UpdateOutcome};

/// A transaction in progress: operations through it commit or abort together.
///
/// Given to the closure of [`DocumentStore::transaction`].
pub struct DocumentTransaction {
    store: DocumentStore,
    session: ClientSession,
}

impl std::fmt::Debug for DocumentTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentTransaction")
            .finish_non_exhaustive()
    }
}

impl DocumentTransaction {
    /// Stores `document` in `collection` as part of the transaction.
    ///
    /// # Errors
    ///
    /// As for [`Collection::insert_one`].
    pub async fn insert_one<T: Serialize + Send + Sync>(
        &mut self,
        collection: &Collection<T>,
        document: impl Borrow<T>,
    ) -> Result<Bson> {
        collection
            .native()
            .insert_one(document)
            .session(&mut self.session)
            .await
            .map(|done| done.inserted_id)
            .map_err(|err| self.store.map(err, "db.insert_one", collection.name()))
    }

    /// The first matching document, as the transaction sees it.
    ///
    /// # Errors
    ///
    /// As for [`Collection::find_one`].
    pub async fn find_one<T>(
        &mut self,
        collection: &Collection<T>,
        filter: Document,
    ) -> Result<Option<T>>
    where
        T: DeserializeOwned + Unpin + Send + Sync,
    {
        collection
            .native()
            .find_one(filter)
            .session(&mut self.session)
            .await
            .map_err(|err| self.store.map(err, "db.find_one", collection.name()))
    }

    /// Applies `update` to the first matching document.
    ///
    /// # Errors
    ///
    /// As for [`Collection::update_one`].
    pub async fn update_one<T: Send + Sync>(
        &mut self,
        collection: &Collection<T>,
        filter: Document,
        update: Document,
    ) -> Result<UpdateOutcome> {
        collection
            .native()
            .update_one(filter, update)
            .session(&mut self.session)
            .await
            .map(|done| UpdateOutcome {
                matched: done.matched_count,
                modified: done.modified_count,
            })
            .map_err(|err| self.store.map(err, "db.update_one", collection.name()))
    }

    /// Deletes the first matching document; returns whether one was.
    ///
    /// # Errors
    ///
    /// As for [`Collection::delete_one`].
    pub async fn delete_one<T: Send + Sync>(
        &mut self,
        collection: &Collection<T>,
        filter: Document,
    ) -> Result<bool> {
        collection
            .native()
            .delete_one(filter)
            .session(&mut self.session)
            .await
            .map(|done| done.deleted_count > 0)
            .map_err(|err| self.store.map(err, "db.delete_one", collection.name()))
    }

    /// The native driver session, for operations not covered here.
    pub fn session(&mut self) -> &mut ClientSession {
        &mut self.session
    }
}

fn worth_another_attempt(err: &Error) -> bool {
    err.kind() == ErrorKind::Conflict && err.is_temporary()
}

pub(crate) async fn run<T, F>(store: &DocumentStore, attempts: u32, mut work: F) -> Result<T>
where
    T: Send,
    F: for<'t> FnMut(&'t mut DocumentTransaction) -> BoxFuture<'t, Result<T>> + Send,
{
    let mut attempt = 1;
    loop {
        let mut session = store
            .client()
            .start_session()
            .await
            .map_err(|err| store.map(err, "db.begin", ""))?;
        session
            .start_transaction()
            .await
            .map_err(|err| store.map(err, "db.begin", ""))?;
        let mut tx = DocumentTransaction {
            store: store.clone(),
            session,
        };
        let outcome = AssertUnwindSafe(work(&mut tx)).catch_unwind().await;
        let err = match outcome {
            Ok(Ok(value)) => match tx.session.commit_transaction().await {
                Ok(()) => return Ok(value),
                Err(err) => store.map(err, "db.commit", ""),
            },
            Ok(Err(err)) => {
                let _ = tx.session.abort_transaction().await;
                err
            }
            Err(panic) => {
                let _ = tx.session.abort_transaction().await;
                std::panic::resume_unwind(panic);
            }
        };
        if attempt >= attempts || !worth_another_attempt(&err) {
            return Err(err);
        }
        let ceiling = 10_u64 << attempt.min(6);
        tokio::time::sleep(Duration::from_millis(fastrand::u64(ceiling / 2..=ceiling))).await;
        attempt += 1;
    }
}
