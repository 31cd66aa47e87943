//! A client of etcd's v3 API through its JSON gateway (`POST /v3/kv/range`,
//! `/v3/watch`, ...): plain HTTP/1.1 and JSON, so core-config needs no gRPC
//! stack and no `protoc` at build time. Keys and values travel in base64,
//! 64-bit numbers as strings.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use core_error::{Error, ErrorKind, Result};
use secrecy::ExposeSecret;
use serde_json::{Value as Json, json};

use super::EtcdSettings;

/// etcd's default limit of operations in one transaction (`--max-txn-ops`).
const MAX_TXN_OPS: usize = 128;

/// One key and its value, as read from etcd.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Kv {
    pub(crate) key: String,
    pub(crate) value: String,
}

/// What a prefix held at one revision.
#[derive(Clone, Default)]
pub(crate) struct Listing {
    pub(crate) revision: i64,
    pub(crate) kvs: Vec<Kv>,
}

/// What one watch message said.
#[cfg(feature = "reload")]
pub(crate) enum WatchMessage {
    /// The watch is in place.
    Created,
    /// Keys under the prefix changed; the store is now at `revision`.
    Changed { revision: i64 },
    /// The revision asked for has been compacted away: read the prefix anew.
    Compacted,
    /// Nothing changed (a progress notification).
    Quiet,
}

/// A connection to one etcd cluster: the endpoints, TLS and credentials of
/// an [`EtcdSettings`].
#[derive(Clone)]
pub(crate) struct EtcdClient {
    http: reqwest::Client,
    settings: Arc<EtcdSettings>,
}

impl EtcdClient {
    pub(crate) fn new(settings: &EtcdSettings) -> Result<EtcdClient> {
        if settings.endpoints.is_empty() {
            return Err(Error::invalid_input("config.etcd.endpoints is empty")
                .with_key("config.etcd.endpoints")
                .with_operation("config.etcd"));
        }
        for endpoint in &settings.endpoints {
            let parsed = url::Url::parse(endpoint).map_err(|_| {
                Error::invalid_input("an etcd endpoint is not a URL such as http://127.0.0.1:2379")
                    .with_key("config.etcd.endpoints")
                    .with_operation("config.etcd")
            })?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.password().is_some() {
                return Err(Error::invalid_input(
                    "an etcd endpoint must be http:// or https:// with no credentials in it \
                     (they go in config.etcd.user and config.etcd.password)",
                )
                .with_key("config.etcd.endpoints")
                .with_operation("config.etcd"));
            }
        }
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms.max(1)))
            .connect_timeout(Duration::from_millis(settings.timeout_ms.max(1)));
        // reqwest is built without a provider of its own: it always gets
        // ours, even when no endpoint is https:// (it is then never used).
        let tls = if settings.endpoints.iter().any(|e| e.starts_with("https:")) {
            super::tls::client_config(settings)?
        } else {
            super::tls::unused_config()?
        };
        builder = builder.use_preconfigured_tls(tls);
        let http = builder.build().map_err(|err| {
            Error::internal(format!("cannot build the etcd client: {err}"))
                .with_operation("config.etcd")
        })?;
        Ok(EtcdClient {
            http,
            settings: Arc::new(settings.clone()),
        })
    }

    /// Every key under `prefix` and the store's revision, with the prefix
    /// removed from the keys.
    pub(crate) async fn list(&self, prefix: &str) -> Result<Listing> {
        let body = json!({
            "key": B64.encode(prefix),
            "range_end": B64.encode(prefix_end(prefix)),
        });
        let reply = self.call("/v3/kv/range", &body, "config.etcd.read").await?;
        let revision = header_revision(&reply);
        let mut kvs = Vec::new();
        for kv in reply["kvs"].as_array().into_iter().flatten() {
            let key = decode(&kv["key"], "key")?;
            let value = decode(&kv["value"], "value")?;
            let key = key.strip_prefix(prefix).unwrap_or(&key).to_string();
            kvs.push(Kv { key, value });
        }
        Ok(Listing { revision, kvs })
    }

    /// Makes `prefix` hold exactly `kvs` (keys relative to it), in one
    /// transaction of up to 128 changed keys, so a watcher sees one change,
    /// never half of it; more go in transactions of 128.
    pub(crate) async fn replace(&self, prefix: &str, kvs: &[Kv]) -> Result<i64> {
        let current = self.list(prefix).await?;
        let mut ops: Vec<Json> = current
            .kvs
            .iter()
            .filter(|old| !kvs.iter().any(|new| new.key == old.key))
            .map(|old| {
                json!({"request_delete_range": {"key": B64.encode(format!("{prefix}{}", old.key))}})
            })
            .collect();
        ops.extend(kvs.iter().map(|kv| {
            json!({"request_put": {
                "key": B64.encode(format!("{prefix}{}", kv.key)),
                "value": B64.encode(&kv.value),
            }})
        }));
        // etcd refuses a transaction of more than --max-txn-ops (128 by
        // default) operations: a bigger tree goes in several.
        let mut revision = current.revision;
        for batch in ops.chunks(MAX_TXN_OPS) {
            let reply = self
                .call("/v3/kv/txn", &json!({"success": batch}), "config.etcd.push")
                .await?;
            revision = header_revision(&reply);
        }
        Ok(revision)
    }

    /// Sets one key (a full key, not relative to a prefix).
    pub(crate) async fn put(&self, key: &str, value: &str) -> Result<i64> {
        let body = json!({"key": B64.encode(key), "value": B64.encode(value)});
        let reply = self.call("/v3/kv/put", &body, "config.etcd.put").await?;
        Ok(header_revision(&reply))
    }

    #[cfg(feature = "reload")]
    /// Opens a watch on `prefix` from `start_revision` and calls `each` with
    /// every message until the stream ends (an error) or `each` says stop.
    pub(crate) async fn watch(
        &self,
        prefix: &str,
        start_revision: i64,
        mut each: impl FnMut(WatchMessage) -> bool,
    ) -> Result<()> {
        let body = json!({"create_request": {
            "key": B64.encode(prefix),
            "range_end": B64.encode(prefix_end(prefix)),
            "start_revision": start_revision.to_string(),
            "progress_notify": true,
        }});
        let (endpoint, mut response) = self
            .send("/v3/watch", &body, "config.etcd.watch", false)
            .await?;
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let chunk = response.chunk().await.map_err(|err| {
                unavailable(
                    &endpoint,
                    "config.etcd.watch",
                    &format!("the watch broke: {err}"),
                )
            })?;
            let Some(chunk) = chunk else {
                return Err(unavailable(
                    &endpoint,
                    "config.etcd.watch",
                    "the watch ended",
                ));
            };
            pending.extend_from_slice(&chunk);
            let mut stream = serde_json::Deserializer::from_slice(&pending).into_iter::<Json>();
            let mut used = 0;
            loop {
                match stream.next() {
                    Some(Ok(message)) => {
                        used = stream.byte_offset();
                        if !each(watch_message(&endpoint, &message)?) {
                            return Ok(());
                        }
                    }
                    Some(Err(err)) if err.is_eof() => break,
                    Some(Err(err)) => {
                        return Err(unavailable(
                            &endpoint,
                            "config.etcd.watch",
                            &format!("etcd sent a watch message that is not JSON: {err}"),
                        ));
                    }
                    None => break,
                }
            }
            pending.drain(..used);
        }
    }

    /// POSTs `body` to `path` and reads the JSON reply.
    async fn call(&self, path: &str, body: &Json, operation: &'static str) -> Result<Json> {
        let (endpoint, response) = self.send(path, body, operation, true).await?;
        response
            .json::<Json>()
            .await
            .map_err(|err| unavailable(&endpoint, operation, &format!("unreadable reply: {err}")))
    }

    /// Sends to the first endpoint that answers, authenticating first when a
    /// user is set. Returns the endpoint used and its successful response.
    async fn send(
        &self,
        path: &str,
        body: &Json,
        operation: &'static str,
        with_timeout: bool,
    ) -> Result<(String, reqwest::Response)> {
        let mut last = None;
        for endpoint in &self.settings.endpoints {
            let endpoint = endpoint.trim_end_matches('/').to_string();
            match self
                .send_to(&endpoint, path, body, operation, with_timeout)
                .await
            {
                Ok(response) => return Ok((endpoint, response)),
                // Refusals (bad credentials, no permission) are the same on
                // every member; only an unreachable member is worth skipping.
                Err(err) if err.kind() == ErrorKind::Unavailable => last = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last
            .unwrap_or_else(|| Error::unavailable("no etcd endpoint").with_operation(operation)))
    }

    async fn send_to(
        &self,
        endpoint: &str,
        path: &str,
        body: &Json,
        operation: &'static str,
        with_timeout: bool,
    ) -> Result<reqwest::Response> {
        let token = match (&self.settings.user, &self.settings.password) {
            (Some(user), Some(password)) if !user.is_empty() => Some(
                self.authenticate(endpoint, user, password.expose_secret())
                    .await?,
            ),
            _ => None,
        };
        let mut request = self.http.post(format!("{endpoint}{path}")).json(body);
        if !with_timeout {
            // A watch lasts as long as the service: only connecting is bounded.
            request = request.timeout(Duration::from_secs(365 * 24 * 3600));
        }
        if let Some(token) = token {
            request = request.header("Authorization", token);
        }
        let response = request
            .send()
            .await
            .map_err(|err| transport_error(endpoint, operation, &err))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let reply: Json = response.json().await.unwrap_or(Json::Null);
        Err(refused(endpoint, operation, status.as_u16(), &reply))
    }

    async fn authenticate(&self, endpoint: &str, user: &str, password: &str) -> Result<String> {
        let response = self
            .http
            .post(format!("{endpoint}/v3/auth/authenticate"))
            .json(&json!({"name": user, "password": password}))
            .send()
            .await
            .map_err(|err| transport_error(endpoint, "config.etcd.authenticate", &err))?;
        let status = response.status();
        let reply: Json = response.json().await.unwrap_or(Json::Null);
        if !status.is_success() {
            return Err(refused(
                endpoint,
                "config.etcd.authenticate",
                status.as_u16(),
                &reply,
            ));
        }
        reply["token"].as_str().map(str::to_string).ok_or_else(|| {
            Error::unavailable(format!(
                "etcd at {endpoint} gave no token: is authentication enabled there?"
            ))
            .with_operation("config.etcd.authenticate")
        })
    }
}

/// The end of the range holding every key that starts with `prefix`.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn header_revision(reply: &Json) -> i64 {
    number(&reply["header"]["revision"]).unwrap_or(0)
}

/// A 64-bit number, which the gateway writes as a string.
fn number(value: &Json) -> Option<i64> {
    match value {
        Json::String(text) => text.parse().ok(),
        Json::Number(number) => number.as_i64(),
        _ => None,
    }
}

fn decode(value: &Json, what: &str) -> Result<String> {
    let text = value.as_str().unwrap_or("");
    let bytes = B64.decode(text).map_err(|_| {
        Error::unavailable(format!("etcd sent a {what} that is not base64"))
            .with_operation("config.etcd.read")
    })?;
    String::from_utf8(bytes).map_err(|_| {
        Error::invalid_input(format!("an etcd {what} under the prefix is not UTF-8"))
            .with_operation("config.etcd.read")
    })
}

#[cfg(feature = "reload")]
fn watch_message(endpoint: &str, message: &Json) -> Result<WatchMessage> {
    if let Some(error) = message.get("error") {
        let text = error["message"].as_str().unwrap_or("unknown error");
        return Err(unavailable(endpoint, "config.etcd.watch", text));
    }
    let result = &message["result"];
    if number(&result["compact_revision"]).is_some_and(|rev| rev > 0) {
        return Ok(WatchMessage::Compacted);
    }
    if result["canceled"].as_bool() == Some(true) {
        let reason = result["cancel_reason"]
            .as_str()
            .unwrap_or("no reason given");
        return Err(unavailable(
            endpoint,
            "config.etcd.watch",
            &format!("watch canceled: {reason}"),
        ));
    }
    if result["created"].as_bool() == Some(true) {
        return Ok(WatchMessage::Created);
    }
    if result["events"]
        .as_array()
        .is_some_and(|events| !events.is_empty())
    {
        return Ok(WatchMessage::Changed {
            revision: number(&result["header"]["revision"]).unwrap_or(0),
        });
    }
    Ok(WatchMessage::Quiet)
}

fn unavailable(endpoint: &str, operation: &'static str, what: &str) -> Error {
    Error::unavailable(format!("etcd at {endpoint}: {what}"))
        .with_endpoint(endpoint)
        .with_operation(operation)
}

fn transport_error(endpoint: &str, operation: &'static str, err: &reqwest::Error) -> Error {
    // reqwest's own text names the URL; the chain says why (refused, TLS).
    let mut cause = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(next) = source {
        cause = next.to_string();
        source = next.source();
    }
    let what = if err.is_timeout() {
        "did not answer in time".to_string()
    } else if cause.is_empty() {
        "cannot connect".to_string()
    } else {
        format!("cannot connect: {cause}")
    };
    let certificate = cause.contains("certificate") || cause.contains("UnknownIssuer");
    let error = unavailable(endpoint, operation, &what);
    // A certificate problem does not fix itself: retrying only delays the
    // error the operator has to see.
    if certificate {
        error.with_temporary(false)
    } else {
        error
    }
}

fn refused(endpoint: &str, operation: &'static str, status: u16, reply: &Json) -> Error {
    let message = reply["message"]
        .as_str()
        .or_else(|| reply["error"].as_str())
        .unwrap_or("no reason given");
    let text = format!("etcd at {endpoint} refused {operation} (HTTP {status}): {message}");
    let error =
        if message.contains("authentication failed") || message.contains("invalid auth token") {
            Error::unauthenticated(text)
        } else if message.contains("permission denied") {
            Error::permission_denied(text)
        } else if status >= 500 {
            Error::unavailable(text)
        } else {
            Error::invalid_input(text)
        };
    error.with_endpoint(endpoint).with_operation(operation)
}
