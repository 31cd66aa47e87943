//! How typed values become bytes.

use bytes::Bytes;
use core_error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The encoding of cached values.
///
/// JSON is the default: readable with `redis-cli`, shared with services in
/// other languages. `Postcard` (feature `binary`) is a compact binary format
/// for values only Rust services read.
///
/// ```
/// use core_cache::Codec;
///
/// let bytes = Codec::Json.encode(&vec![1, 2, 3]).unwrap();
/// assert_eq!(&bytes[..], b"[1,2,3]");
/// let back: Vec<u32> = Codec::Json.decode(&bytes).unwrap();
/// assert_eq!(back, [1, 2, 3]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Codec {
    /// `serde_json`.
    #[default]
    Json,
    /// `postcard`: compact, not self-describing.
    #[cfg(feature = "binary")]
    Postcard,
}

impl Codec {
    /// Encodes `value`.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) when the value
    /// cannot be represented (a map with non-string keys in JSON, say).
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Bytes> {
        let encoded = match self {
            Codec::Json => serde_json::to_vec(value).map_err(|err| err.to_string()),
            #[cfg(feature = "binary")]
            Codec::Postcard => postcard::to_stdvec(value).map_err(|err| err.to_string()),
        };
        encoded.map(Bytes::from).map_err(|reason| {
            Error::invalid_input(format!("the value cannot be encoded as {self:?}: {reason}"))
                .with_operation("cache.encode")
        })
    }

    /// Decodes bytes that [`encode`](Codec::encode) produced.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) when the bytes
    /// are not a `T` in this encoding.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T> {
        let decoded = match self {
            Codec::Json => serde_json::from_slice(bytes).map_err(|err| err.to_string()),
            #[cfg(feature = "binary")]
            Codec::Postcard => postcard::from_bytes(bytes).map_err(|err| err.to_string()),
        };
        decoded.map_err(|reason| {
            Error::invalid_input(format!(
                "the cached value is not a {} in {self:?}: {reason}",
                std::any::type_name::<T>()
            ))
            .with_operation("cache.decode")
        })
    }
}
