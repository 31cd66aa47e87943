//! [`Collection`]: typed documents through serde.

use std::borrow::Borrow;
use std::sync::Arc;

use core_error::Result;
use futures::stream::BoxStream;
use futures::{StreamExt as _, TryStreamExt as _};
use mongodb::bson::{Bson, Document};
use mongodb::options::{AggregateOptions, CountOptions, FindOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{DocumentStore, Inner};

/// Sort, limit and skip for [`Collection::find`].
///
/// ```
/// use core_db::document::{Find, bson::doc};
///
/// let page = Find::default().sort(doc! { "created": -1 }).skip(20).limit(10);
/// assert_eq!(page.limit, Some(10));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Find {
    /// Field order, such as `{ "created": -1 }`.
    pub sort: Option<Document>,
    /// The most documents returned.
    pub limit: Option<i64>,
    /// Documents passed over first.
    pub skip: Option<u64>,
}

impl Find {
    /// Sorts by `order`.
    pub fn sort(mut self, order: Document) -> Find {
        self.sort = Some(order);
        self
    }

    /// Returns at most `limit` documents.
    pub fn limit(mut self, limit: i64) -> Find {
        self.limit = Some(limit);
        self
    }

    /// Passes over the first `skip` documents.
    pub fn skip(mut self, skip: u64) -> Find {
        self.skip = Some(skip);
        self
    }
}

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// Documents the filter matched.
    pub matched: u64,
    /// Documents actually changed.
    pub modified: u64,
}

/// A collection of documents of type `T`.
///
/// Filters, updates and pipelines are BSON documents (`bson::doc!`), sent
/// as structured data: no value is ever parsed as part of a query language.
pub struct Collection<T: Send + Sync> {
    native: mongodb::Collection<T>,
    inner: Arc<Inner>,
}

impl<T: Send + Sync> Clone for Collection<T> {
    fn clone(&self) -> Collection<T> {
        Collection {
            native: self.native.clone(),
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Send + Sync> std::fmt::Debug for Collection<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("name", &self.native.name())
            .finish()
    }
}

impl<T: Send + Sync> Collection<T> {
    pub(crate) fn new(native: mongodb::Collection<T>, inner: Arc<Inner>) -> Collection<T> {
        Collection { native, inner }
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        self.native.name()
    }

    /// The native driver collection.
    pub fn native(&self) -> &mongodb::Collection<T> {
        &self.native
    }

    fn map(&self, err: mongodb::error::Error, operation: &'static str) -> core_error::Error {
        let store = DocumentStore {
            inner: Arc::clone(&self.inner),
        };
        store.map(err, operation, self.native.name())
    }

    fn finish(&self, started: Option<std::time::Instant>, operation: &str) {
        if started.is_some() {
            let statement = format!("{operation} {}", self.native.name());
            self.inner.slow.finish(started, &statement, 1);
        }
    }

    /// Counts the documents matching `filter`.
    ///
    /// # Errors
    ///
    /// The server's errors mapped into the shared kinds.
    pub async fn count(&self, filter: Document) -> Result<u64> {
        let started = self.inner.slow.start();
        let mut options = CountOptions::default();
        options.max_time = self.inner.read_time_limit;
        let counted = self
            .native
            .count_documents(filter)
            .with_options(options)
            .await;
        self.finish(started, "count");
        counted.map_err(|err| self.map(err, "db.count"))
    }

    /// Deletes the first document matching `filter`; returns whether one was.
    ///
    /// # Errors
    ///
    /// The server's errors mapped into the shared kinds.
    pub async fn delete_one(&self, filter: Document) -> Result<bool> {
        let started = self.inner.slow.start();
        let deleted = self.native.delete_one(filter).await;
        self.finish(started, "delete_one");
        deleted
            .map(|done| done.deleted_count > 0)
            .map_err(|err| self.map(err, "db.delete_one"))
    }

    /// Deletes every document matching `filter`; returns how many.
    ///
    /// # Errors
    ///
    /// The server's errors mapped into the shared kinds.
    pub async fn delete_many(&self, filter: Document) -> Result<u64> {
        let started = self.inner.slow.start();
        let deleted = self.native.delete_many(filter).await;
        self.finish(started, "delete_many");
        deleted
            .map(|done| done.deleted_count)
            .map_err(|err| self.map(err, "db.delete_many"))
    }

    /// Applies `update` (`{"$set": …}`) to the first document matching `filter`.
    ///
    /// # Errors
    ///
    /// [`Conflict`](core_error::ErrorKind::Conflict) when the change breaks
    /// a unique index; the server's errors otherwise.
    pub async fn update_one(&self, filter: Document, update: Document) -> Result<UpdateOutcome> {
        let started = self.inner.slow.start();
        let updated = self.native.update_one(filter, update).await;
        self.finish(started, "update_one");
        updated
            .map(|done| UpdateOutcome {
                matched: done.matched_count,
                modified: done.modified_count,
            })
            .map_err(|err| self.map(err, "db.update_one"))
    }

    /// Applies `update` to every document matching `filter`.
    ///
    /// # Errors
    ///
    /// As for [`update_one`](Self::update_one).
    pub async fn update_many(&self, filter: Document, update: Document) -> Result<UpdateOutcome> {
        let started = self.inner.slow.start();
        let updated = self.native.update_many(filter, update).await;
        self.finish(started, "update_many");
        updated
            .map(|done| UpdateOutcome {
                matched: done.matched_count,
                modified: done.modified_count,
            })
            .map_err(|err| self.map(err, "db.update_many"))
    }

    /// Runs an aggregation pipeline as given and returns its output documents.
    ///
    /// # Errors
    ///
    /// The server's errors mapped into the shared kinds.
    pub async fn aggregate(&self, pipeline: Vec<Document>) -> Result<Vec<Document>> {
        let started = self.inner.slow.start();
        let mut options = AggregateOptions::default();
        options.max_time = self.inner.read_time_limit;
        let outcome = async {
            self.native
                .aggregate(pipeline)
                .with_options(options)
                .await?
                .try_collect::<Vec<Document>>()
                .await
        }
        .await;
        self.finish(started, "aggregate");
        outcome.map_err(|err| self.map(err, "db.aggregate"))
    }
}

impl<T> Collection<T>
where
    T: Serialize + Send + Sync,
{
    /// Stores `document`; returns its `_id` (generated when it has none).
    ///
    /// # Errors
    ///
    /// [`Conflict`](core_error::ErrorKind::Conflict) when the `_id` or a
    /// unique index key exists already;
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) when `T` does
    /// not serialize to a document.
    pub async fn insert_one(&self, document: impl Borrow<T>) -> Result<Bson> {
        let started = self.inner.slow.start();
        let inserted = self.native.insert_one(document).await;
        self.finish(started, "insert_one");
        inserted
            .map(|done| done.inserted_id)
            .map_err(|err| self.map(err, "db.insert_one"))
    }

    /// Stores every document in order; returns their `_id`s in that order.
    ///
    /// # Errors
    ///
    /// As for [`insert_one`](Self::insert_one); documents before the first
    /// failing one are stored.
    pub async fn insert_many(
        &self,
        documents: impl IntoIterator<Item = impl Borrow<T>>,
    ) -> Result<Vec<Bson>> {
        let started = self.inner.slow.start();
        let inserted = self.native.insert_many(documents).await;
        self.finish(started, "insert_many");
        let mut ids: Vec<(usize, Bson)> = inserted
            .map_err(|err| self.map(err, "db.insert_many"))?
            .inserted_ids
            .into_iter()
            .collect();
        ids.sort_by_key(|(index, _)| *index);
        Ok(ids.into_iter().map(|(_, id)| id).collect())
    }

    /// Replaces the first document matching `filter` with `document`.
    ///
    /// # Errors
    ///
    /// As for [`update_one`](Self::update_one).
    pub async fn replace_one(
        &self,
        filter: Document,
        document: impl Borrow<T>,
    ) -> Result<UpdateOutcome> {
        let started = self.inner.slow.start();
        let replaced = self.native.replace_one(filter, document).await;
        self.finish(started, "replace_one");
        replaced
            .map(|done| UpdateOutcome {
                matched: done.matched_count,
                modified: done.modified_count,
            })
            .map_err(|err| self.map(err, "db.replace_one"))
    }
}

impl<T> Collection<T>
where
    T: DeserializeOwned + Unpin + Send + Sync + 'static,
{
    /// The first document matching `filter`, if any.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) when the
    /// stored document does not deserialize into `T`.
    pub async fn find_one(&self, filter: Document) -> Result<Option<T>> {
        let started = self.inner.slow.start();
        let found = self
            .native
            .find_one(filter)
            .max_time(self.inner.read_time_limit.unwrap_or_default())
            .await;
        self.finish(started, "find_one");
        found.map_err(|err| self.map(err, "db.find_one"))
    }

    /// Every document matching `filter`, sorted, skipped and limited as `find` says.
    ///
    /// # Errors
    ///
    /// As for [`find_one`](Self::find_one).
    pub async fn find(&self, filter: Document, find: Find) -> Result<Vec<T>> {
        let started = self.inner.slow.start();
        let found = async {
            self.native
                .find(filter)
                .with_options(self.options(find))
                .await?
                .try_collect::<Vec<T>>()
                .await
        }
        .await;
        self.finish(started, "find");
        found.map_err(|err| self.map(err, "db.find"))
    }

    /// The matching documents one at a time, fetched in batches as read.
    pub fn find_stream(&self, filter: Document, find: Find) -> BoxStream<'static, Result<T>> {
        let this = self.clone();
        let options = self.options(find);
        let opened = async move {
            match this.native.find(filter).with_options(options).await {
                Ok(cursor) => cursor
                    .map(move |item| item.map_err(|err| this.map(err, "db.find_stream")))
                    .boxed(),
                Err(err) => {
                    let err = this.map(err, "db.find_stream");
                    futures::stream::once(futures::future::ready(Err(err))).boxed()
                }
            }
        };
        futures::stream::once(opened).flatten().boxed()
    }

    fn options(&self, find: Find) -> FindOptions {
        let mut options = FindOptions::default();
        options.sort = find.sort;
        options.limit = find.limit;
        options.skip = find.skip;
        options.max_time = self.inner.read_time_limit;
        options
    }
}
