//! Building a backend from settings: the URL's scheme picks a registered
//! backend, and the standard layers go around it.

use std::sync::Arc;

use core_error::{Error, Result};
use secrecy::ExposeSecret as _;

use crate::backends::REGISTRY;
use crate::layers;
use crate::registration::Registration;
use crate::{MessageQueueBase, MqSettings};

/// Connects the backend `settings.url` names and wraps it in the layers
/// `settings.layers` asks for.
///
/// ```
/// use core_mq::{MqSettings, connect};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
/// let queue = connect(&MqSettings::default()).await?;
/// assert_eq!(queue.name(), "memory");
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for an unknown
/// scheme (the message lists the schemes compiled in);
/// [`Unsupported`](core_error::ErrorKind::Unsupported) for a backend whose
/// cargo feature is off (the message names it); the backend's connection errors.
pub async fn connect(settings: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    let backend = connect_backend(settings).await?;
    Ok(layers::stack(backend, &settings.layers))
}

/// The bare backend `settings.url` names, without layers.
///
/// # Errors
///
/// As for [`connect`].
pub async fn connect_backend(settings: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    let url = settings.url.expose_secret();
    let scheme = url
        .split_once("://")
        .map_or(url, |(scheme, _)| scheme)
        .to_ascii_lowercase();
    let Some(registration) = REGISTRY
        .iter()
        .find(|registration| registration.schemes.contains(&scheme.as_str()))
    else {
        return Err(unknown_scheme(&scheme));
    };
    match registration.connect {
        Some(connect) => connect(settings).await,
        None => Err(feature_off(registration)),
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
        "unknown message-queue URL scheme {scheme:?}; this build knows {}",
        compiled_in.join(", ")
    ))
    .with_operation("mq.connect")
    .with_key("mq.url")
}

fn feature_off(registration: &Registration) -> Error {
    Error::unsupported(format!(
        "the {} message-queue backend is not compiled in; enable the core-mq feature `{}`",
        registration.name, registration.feature
    ))
    .with_operation("mq.connect")
    .with_key("mq.url")
}
