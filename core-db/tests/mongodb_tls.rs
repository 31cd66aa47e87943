//! TLS to the MongoDB-wire server behind the `mongodb-tls` terminator of
//! `scripts/services.sh` (27018, also on 127.0.0.2, a name its certificate
//! lacks) and the `mongodb-mtls` one (27019, a client certificate required):
//! refusals say why and are not retried. The document conformance
//! suite runs over TLS in `document` (`mongodb_tls::`).

#![cfg(feature = "mongodb")]

use core_db::document::DocumentStore;
use core_db::{DatabaseBase as _, DatabaseSettings, ErrorKind};
use core_testkit::{Service, require_service};

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
        Service::tls_file("other-ca.pem")
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
        Service::tls_file("ca.pem")
    ))
    .await;
    assert!(!err.is_temporary(), "{err}");
    assert!(err.to_string().contains("does not name the host"), "{err}");
}

#[tokio::test]
async fn a_terminator_that_demands_a_client_certificate_takes_the_projects() {
    let url = require_service!(Service::MongoDbTls);
    // `mongodb-mtls`: the same server behind a terminator that requires a
    // client certificate from the project CA.
    let mtls = url.replace(":27018", ":27019");
    // The driver takes the certificate and its key from one PEM file.
    let directory = std::env::temp_dir().join(core_testkit::unique_name("mongodb_client"));
    std::fs::create_dir_all(&directory).unwrap();
    let client = directory.join("client-with-key.pem");
    let read = |name: &str| std::fs::read(Service::tls_dir().join(name)).unwrap();
    std::fs::write(&client, [read("client.pem"), read("client.key")].concat()).unwrap();

    let mut settings = DatabaseSettings::from_url(format!(
        "{mtls}&tls=true&tlsCAFile={}&tlsCertificateKeyFile={}",
        Service::tls_file("ca.pem"),
        client.display()
    ));
    settings.database_name = Some("test".to_string());
    let store = DocumentStore::connect(&settings)
        .await
        .expect("connect with the client certificate");
    store
        .health(std::time::Duration::from_secs(10))
        .await
        .expect("healthy with the client certificate");
    std::fs::remove_dir_all(&directory).unwrap();

    let err = refused(format!(
        "{mtls}&tls=true&tlsCAFile={}&serverSelectionTimeoutMS=3000",
        Service::tls_file("ca.pem")
    ))
    .await;
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.to_string().contains("refused the client certificate"),
        "{err}"
    );
}
