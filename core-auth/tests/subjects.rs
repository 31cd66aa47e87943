//! Sessions follow the subject's real rights: a refresh reads its current
//! roles through the service's directory, and `revoke_subject` ends every
//! session issued before it — in memory, and across two instances sharing
//! Redis.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::*;
use core_auth::ErrorKind;
use core_auth::tokens::{SubjectDirectory, SubjectRights, TokenService, TokenSettings};
use core_cache::{Cache, CacheSettings, connect};
use core_testkit::{Service, require_service, unique_name};

/// A user table: subject → roles; a missing subject is deleted.
#[derive(Default)]
struct Users(Mutex<HashMap<String, Vec<String>>>);

impl Users {
    fn set(&self, subject: &str, roles: &[&str]) {
        let roles = roles.iter().map(|role| (*role).to_owned()).collect();
        self.0.lock().unwrap().insert(subject.to_owned(), roles);
    }

    fn delete(&self, subject: &str) {
        self.0.lock().unwrap().remove(subject);
    }
}

#[async_trait::async_trait]
impl SubjectDirectory for Users {
    async fn current_rights(&self, subject: &str) -> core_auth::Result<Option<SubjectRights>> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(subject)
            .map(|roles| SubjectRights {
                roles: roles.clone(),
                scopes: Vec::new(),
            }))
    }
}

fn following(cache: Cache, users: &Arc<Users>) -> TokenService {
    service(cache, &TokenSettings::default()).with_subjects(users.clone())
}

async fn a_demoted_admin_refreshes_into_a_plain_user(tokens: &TokenService, users: &Users) {
    users.set("ada", &["admin"]);
    let pair = tokens.issue("ada", &["admin".into()], &[]).await.unwrap();
    users.set("ada", &["user"]);
    let next = tokens.refresh(&pair.refresh_token).await.unwrap();
    let principal = tokens.authenticate(&next.access_token).await.unwrap();
    assert_eq!(
        principal.roles,
        ["user"],
        "the refresh copied the old roles"
    );
}

async fn a_deleted_user_cannot_refresh_and_its_session_ends(tokens: &TokenService, users: &Users) {
    users.set("bob", &["admin"]);
    let pair = tokens.issue("bob", &["admin".into()], &[]).await.unwrap();
    users.delete("bob");
    let err = tokens.refresh(&pair.refresh_token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    let err = tokens.authenticate(&pair.access_token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
}

/// `checker` may be another instance sharing the revocations; `users` is
/// their directory, if they have one.
async fn revoke_subject_ends_earlier_sessions_only(
    issuer: &TokenService,
    checker: &TokenService,
    users: &Users,
) {
    let subject = unique_name("carol");
    users.set(&subject, &["user"]);
    let first = issuer
        .issue(&subject, &["admin".into()], &[])
        .await
        .unwrap();
    let second = issuer
        .issue(&subject, &["admin".into()], &[])
        .await
        .unwrap();
    let other = issuer.issue("someone-else", &[], &[]).await.unwrap();
    issuer.revoke_subject(&subject).await.unwrap();
    for pair in [&first, &second] {
        let err = checker.authenticate(&pair.access_token).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
        let err = checker.refresh(&pair.refresh_token).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    }
    assert!(checker.authenticate(&other.access_token).await.is_ok());
    // The next login, even within the same second, works.
    let after = issuer.issue(&subject, &["user".into()], &[]).await.unwrap();
    assert!(checker.authenticate(&after.access_token).await.is_ok());
    let renewed = checker.refresh(&after.refresh_token).await.unwrap();
    assert!(issuer.authenticate(&renewed.access_token).await.is_ok());
}

#[tokio::test]
async fn sessions_follow_the_subject_in_memory() {
    let users = Arc::new(Users::default());
    let tokens = following(memory_cache().await, &users);
    a_demoted_admin_refreshes_into_a_plain_user(&tokens, &users).await;
    a_deleted_user_cannot_refresh_and_its_session_ends(&tokens, &users).await;
    revoke_subject_ends_earlier_sessions_only(&tokens, &tokens, &users).await;
}

#[tokio::test]
async fn without_a_directory_revoke_subject_still_ends_sessions() {
    let tokens = service(memory_cache().await, &TokenSettings::default());
    revoke_subject_ends_earlier_sessions_only(&tokens, &tokens, &Users::default()).await;
}

#[tokio::test]
async fn sessions_follow_the_subject_across_instances_sharing_redis() {
    let url = require_service!(Service::Redis);
    let mut settings = CacheSettings::from_url(url);
    settings.namespace = Some(unique_name("auth"));
    let users = Arc::new(Users::default());
    let a = following(connect(&settings).await.unwrap(), &users);
    let b = following(connect(&settings).await.unwrap(), &users);
    a_demoted_admin_refreshes_into_a_plain_user(&a, &users).await;
    a_deleted_user_cannot_refresh_and_its_session_ends(&b, &users).await;
    revoke_subject_ends_earlier_sessions_only(&a, &b, &users).await;
}
