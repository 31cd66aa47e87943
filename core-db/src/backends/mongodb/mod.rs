//! MongoDB (and servers speaking its wire protocol) through the official
//! driver: [`DocumentStore`], typed [`Collection`]s, declared indexes and
//! transactions.
//!
//! Always compiled: its `REGISTRATION`, so a `mongodb://` URL is known
//! (and its feature named) in every build; the driver code is behind the
//! `mongodb` feature.

#[cfg(feature = "mongodb")]
mod collection;
#[cfg(feature = "mongodb")]
mod error;
#[cfg(feature = "mongodb")]
mod store;
#[cfg(feature = "mongodb")]
mod transaction;

#[cfg(feature = "mongodb")]
pub use mongodb::bson;

#[cfg(feature = "mongodb")]
pub use self::collection::{Collection, Find, UpdateOutcome};
#[cfg(feature = "mongodb")]
pub(crate) use self::store::Inner;
#[cfg(feature = "mongodb")]
pub use self::store::{DocumentStore, IndexSpec, client_options};
#[cfg(feature = "mongodb")]
pub use self::transaction::DocumentTransaction;
use crate::registration::{Registration, when_feature};
use crate::{Backend, Capabilities};

pub(crate) const REGISTRATION: Registration = Registration {
    backend: Backend::MongoDb,
    schemes: &["mongodb", "mongodb+srv"],
    feature: "mongodb",
    capabilities: Capabilities {
        sql: false,
        savepoints: false,
        isolation_levels: false,
        read_replicas: false,
        ..Capabilities::ALL
    },
    open: when_feature!("mongodb", crate::registration::Open::Document(open)),
};

#[cfg(feature = "mongodb")]
fn open(
    settings: &crate::DatabaseSettings,
) -> futures::future::BoxFuture<'_, core_error::Result<DocumentStore>> {
    Box::pin(DocumentStore::connect(settings))
}
