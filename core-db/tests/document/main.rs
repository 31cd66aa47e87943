//! The document `DatabaseBase` behaviour suite, run against the
//! MongoDB-wire server.
//!
//! `cargo test -p core-db --all-features --test document`

mod cases;

use std::sync::Mutex;

use core_db::DatabaseSettings;
use core_db::document::DocumentStore;
use core_db::document::bson::Document;
use core_testkit::{Service, require_service, unique_name};

/// What a case gets: a store and a collection name of its own; every
/// collection it registers is dropped when the case ends, even by panic.
pub(crate) struct Target {
    pub(crate) store: DocumentStore,
    pub(crate) settings: DatabaseSettings,
    pub(crate) name: String,
    collections: Mutex<Vec<String>>,
}

impl Target {
    async fn new(settings: DatabaseSettings) -> Option<Target> {
        let store = DocumentStore::connect(&settings)
            .await
            .expect("connect the store under test");
        let name = unique_name("docs");
        Some(Target {
            store,
            settings,
            collections: Mutex::new(vec![name.clone()]),
            name,
        })
    }

    /// Another collection name, dropped when the case ends.
    pub(crate) fn another_collection(&self, prefix: &str) -> String {
        let name = unique_name(prefix);
        self.collections.lock().unwrap().push(name.clone());
        name
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let names =
            std::mem::take(&mut *self.collections.lock().unwrap_or_else(|p| p.into_inner()));
        let database = self.store.database().clone();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                for name in names {
                    let _ = database.collection::<Document>(&name).drop().await;
                }
            })
        });
    }
}

async fn mongodb() -> Option<Target> {
    let url = require_service!(Service::MongoDb, None);
    let mut settings = DatabaseSettings::from_url(url);
    settings.database_name = Some("test".to_string());
    Target::new(settings).await
}

macro_rules! document_suite {
    ($backend:ident, $setup:path) => {
        core_testkit::conformance_suite! {
            suite: crate::cases,
            backend: $backend,
            setup: $setup,
            cases: [
                health_version_and_pool_stats_answer,
                documents_are_created_read_updated_and_deleted,
                typed_documents_round_trip_with_nulls_unicode_and_large_values,
                filters_sort_skip_and_limit_select_documents,
                aggregation_pipelines_pass_through,
                a_missing_document_reads_as_none,
                a_unique_index_turns_duplicates_into_conflicts,
                a_document_of_the_wrong_shape_is_invalid_input,
                injection_strings_are_stored_verbatim,
                streaming_find_yields_every_document,
                a_committed_transaction_is_visible,
                an_error_in_the_transaction_aborts_it,
                a_panic_in_the_transaction_aborts_it,
            ],
        }
    };
}

/// The same server behind the TLS terminator of `scripts/services.sh`,
/// verified against the project CA.
async fn mongodb_tls() -> Option<Target> {
    let url = require_service!(Service::MongoDbTls, None);
    let ca = Service::tls_dir().join("ca.pem");
    let mut settings =
        DatabaseSettings::from_url(format!("{url}&tls=true&tlsCAFile={}", ca.display()));
    settings.database_name = Some("test".to_string());
    Target::new(settings).await
}

document_suite!(mongodb, crate::mongodb);
document_suite!(mongodb_tls, crate::mongodb_tls);
