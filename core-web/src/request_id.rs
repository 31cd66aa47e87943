//! Request ids: kept from `x-request-id`, made for requests that arrive
//! without one.

use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

use crate::observe::REQUEST_ID_HEADER;

/// [`REQUEST_ID_HEADER`] as a header name, made once (a `&str` key is
/// parsed again on every lookup).
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// The request's id: the `x-request-id` it was sent with, or a new random
/// one, which is then added to its headers for the handler to read.
pub(crate) fn ensure<B>(request: &mut Request<B>) -> HeaderValue {
    if let Some(sent) = request.headers().get(&REQUEST_ID) {
        return sent.clone();
    }
    let made = random();
    request.headers_mut().insert(REQUEST_ID, made.clone());
    made
}

/// A new random request id.
fn random() -> HeaderValue {
    HeaderValue::from_bytes(&uuid_v4(fastrand::u128(..)))
        .expect("a hyphenated UUID is a valid header value")
}

/// Makes a random UUID v4 (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`) per
/// request from a per-thread generator, as the standard layers do, for a
/// service that assembles tower-http's request-id layers itself.
///
/// A request id only has to be unique enough to find a request's log
/// lines, not unguessable, so it takes 122 bits from `fastrand`'s
/// per-thread generator, the cheapest there is, rather than a
/// cryptographic one.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        Some(RequestId::new(random()))
    }
}

/// `bits` as a version 4, variant 1 UUID in its hyphenated text form
/// (ASCII, on the stack: the header value is its only copy).
fn uuid_v4(bits: u128) -> [u8; 36] {
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    uuid::Builder::from_random_bytes(bits.to_be_bytes())
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut text);
    text
}

#[cfg(test)]
mod tests {
    fn uuid_v4(bits: u128) -> String {
        String::from_utf8(super::uuid_v4(bits).to_vec()).expect("ASCII")
    }

    #[test]
    fn ids_are_version_4_variant_1_uuids() {
        let id = uuid_v4(u128::MAX);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4(0), "00000000-0000-4000-8000-000000000000");
        assert_eq!(
            uuid_v4(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            "01234567-89ab-4def-8123-456789abcdef"
        );
        let parsed = uuid::Uuid::parse_str(&uuid_v4(fastrand::u128(..))).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
    }
}
