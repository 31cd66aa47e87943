//! Building a cache from settings: the URL's scheme picks a registered
//! backend, `[cache.tiered]` puts an L1 in front, and the standard layers go
//! around it.

use std::sync::Arc;
use std::time::Duration;

use core_error::{Error, Result};
use secrecy::ExposeSecret as _;

use crate::backends::{REGISTRY, tiered};
use crate::layers;
use crate::registration::scheme_of;
use crate::{Cache, CacheBase, CacheSettings};

/// Connects the backend `settings.url` names, wraps it in the standard
/// layers, and returns the cache services use.
///
/// ```
/// use core_cache::{CacheSettings, connect};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
/// let cache = connect(&CacheSettings::default()).await?;
/// cache.set("k", &1, None).await?;
/// assert_eq!(cache.backend().name(), "memory");
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for an unknown
/// scheme or invalid settings; [`Unsupported`](core_error::ErrorKind::Unsupported)
/// for a backend whose cargo feature is off; the backend's connection errors.
pub async fn connect(settings: &CacheSettings) -> Result<Cache> {
    let mut backend = connect_backend(&settings.with_one_deadline()).await?;
    if let Some(tiered) = &settings.tiered {
        let Some(wrap) = tiered::WRAP else {
            return Err(feature_off("tiered", "tiered").with_key("cache.tiered"));
        };
        backend = wrap(backend, settings, tiered).await?;
    }
    let backend = layers::stack(backend, &settings.layers);
    let mut builder = Cache::builder(backend)
        .codec(settings.codec)
        .max_value_bytes(settings.max_value_bytes)
        .ttl_jitter(settings.ttl_jitter);
    if let Some(namespace) = &settings.namespace {
        builder = builder.namespace(namespace.clone());
    }
    if let Some(default_ttl) = settings.default_ttl() {
        builder = builder.default_ttl(default_ttl);
    }
    if let Some(negative) = settings.negative_ttl_ms {
        builder = builder.negative_ttl(Duration::from_millis(negative));
    }
    builder.build()
}

/// The bare backend `settings.url` names, without layers.
///
/// # Errors
///
/// As for [`connect`].
pub async fn connect_backend(settings: &CacheSettings) -> Result<Arc<dyn CacheBase>> {
    let scheme = scheme_of(settings.url.expose_secret());
    let Some(registration) = REGISTRY
        .iter()
        .find(|registration| registration.schemes.contains(&scheme.as_str()))
    else {
        return Err(unknown_scheme(&scheme));
    };
    match registration.connect {
        Some(connect) => connect(settings).await,
        None => Err(feature_off(registration.name, registration.feature)),
    }
}

fn unknown_scheme(scheme: &str) -> Error {
    let compiled_in: Vec<String> = REGISTRY
        .iter()
        .filter(|registration| registration.connect.is_some())
        .flat_map(|registration| registration.schemes)
        .map(|scheme| format!("{scheme}://"))
        .collect();
    Error::invalid_input(format!(
        "unknown cache URL scheme {scheme:?}; this build knows {}",
        compiled_in.join(", ")
    ))
    .with_operation("cache.connect")
    .with_key("cache.url")
}

fn feature_off(backend: &str, feature: &str) -> Error {
    Error::unsupported(format!(
        "the {backend} cache backend is not compiled in; enable the core-cache feature `{feature}`"
    ))
    .with_operation("cache.connect")
    .with_key("cache.url")
}
