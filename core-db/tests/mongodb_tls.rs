//! TLS to the MongoDB-wire server behind the `mongodb-tls` terminator of
//! `scripts/services.sh` (27018, also on 127.0.0.2, a name its certificate
//! lacks): refusals say why and are not retried. The document conformance
//! suite runs over TLS in `document` (`mongodb_tls::`).

#![cfg(feature = "mongodb")]

use core_db::document::DocumentStore;
use core_db::{DatabaseBase as _, DatabaseSettings, ErrorKind};
use core_testkit::{Service, require_service};

fn tls_file(name: &str) -> String {
    Service::tls_dir().join(name).display().to_string()
}

async fn refused(url: String) -> core_db::Error {
    let mut settings = DatabaseSettings::from_url(url);
    settings.database_name = Some("test".to_string());
    match DocumentStore::connect(&settings).await {
        Ok(store) => match store.health(std::time::Duration::from_secs(10)).await {
            Ok(_) => panic!("connected where it must be refused"),
            Err(err) => err,
        },
        Err(err) => err,
    }
}

#[tokio::test]
async fn another_ca_and_another_name_are_refused() {
    let url = require_service!(Service::MongoDbTls);
    // A quick verdict: the driver retries server selection until this.
    let quick = "serverSelectionTimeoutMS=3000";
    let err = refused(format!(
        "{url}&tls=true&tlsCAFile={}&{quick}",
        tls_file("other-ca.pem")
    ))
    .await;
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(!err.is_temporary(), "{err}");
    assert!(
        err.to_string().contains("not trusted (unknown issuer)"),
        "{err}"
    );

    let other_name = url.replace("127.0.0.1", "127.0.0.2");
    let err = refused(format!(
        "{other_name}&tls=true&tlsCAFile={}&{quick}",
        tls_file("ca.pem")
    ))
    .await;
    assert!(!err.is_temporary(), "{err}");
    assert!(err.to_string().contains("does not name the host"), "{err}");
}
