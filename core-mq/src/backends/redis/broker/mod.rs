//! The broker code behind the `redis` registration, compiled with its feature.

mod acks;
mod codec;
mod error;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use core_error::{Error, Result};
use futures::future::BoxFuture;
use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamInfoGroupsReply, StreamReadReply};
use secrecy::ExposeSecret as _;

use super::RedisStreamsSettings;
use crate::raw::{
    self, Ack, Inbound, LagProbe, Source, check_batch, check_consume, check_outgoing, lane_of,
};
use crate::{
    Capabilities, ConsumeOptions, Consumer, Message, MessageQueueBase, MqSettings, SharedHandler,
    StartPosition,
};

pub(crate) const BACKEND: &str = "redis-streams";

/// How long one `XREADGROUP` blocks when the stream is idle.
const BLOCK: Duration = Duration::from_millis(500);

/// The Redis Streams backend. Clones share the publishing connection.
#[derive(Clone)]
pub struct RedisBackend {
    client: redis::Client,
    connection: ConnectionManager,
    endpoint: String,
    settings: RedisStreamsSettings,
    max_message_bytes: usize,
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("endpoint", &self.endpoint)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

async fn manager(
    client: &redis::Client,
    response_timeout: Duration,
) -> redis::RedisResult<ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_with_config(client.clone(), config).await
}

/// The registration's connect function.
pub(super) fn open(settings: &MqSettings) -> BoxFuture<'_, Result<Arc<dyn MessageQueueBase>>> {
    Box::pin(async move {
        let url = settings.url.expose_secret();
        let backend =
            RedisBackend::connect(url, &settings.redis, settings.max_message_bytes).await?;
        Ok(Arc::new(backend) as Arc<dyn MessageQueueBase>)
    })
}

impl RedisBackend {
    /// Connects to the Redis server at `url`.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a malformed
    /// URL; [`Unavailable`](core_error::ErrorKind::Unavailable) when the
    /// server cannot be reached.
    pub async fn connect(
        url: &str,
        settings: &RedisStreamsSettings,
        max_message_bytes: usize,
    ) -> Result<RedisBackend> {
        let endpoint = core_error::redact_endpoint(url);
        let client = core_cache::backends::redis::open_client(url, "mq.connect", BACKEND)?;
        let connection = manager(&client, Duration::from_secs(5))
            .await
            .map_err(|err| {
                let error = error::map(err, "mq.connect", "").with_endpoint(&endpoint);
                core_cache::backends::redis::connect_error(error, url)
            })?;
        Ok(RedisBackend {
            client,
            connection,
            endpoint,
            settings: settings.clone(),
            max_message_bytes,
        })
    }

    fn stream(&self, topic: &str) -> String {
        format!("{}{topic}", self.settings.key_prefix)
    }

    fn xadd(&self, stream: &str, message: &Message) -> redis::Cmd {
        let mut command = redis::cmd("XADD");
        command
            .arg(stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.settings.max_len)
            .arg("*");
        codec::encode(message, &mut command);
        command
    }

    /// Creates `group` on `stream` (and the stream) unless it exists.
    async fn create_group(&self, stream: &str, group: &str, start: &str) -> Result<()> {
        let create = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg(group)
            .arg(start)
            .arg("MKSTREAM")
            .to_owned();
        match self.run::<()>(&create, "mq.consume", stream).await {
            // BUSYGROUP: the group exists already; join it.
            Err(err) if !busy_group(&err) => Err(err),
            _ => Ok(()),
        }
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
        operation: &'static str,
        stream: &str,
    ) -> Result<T> {
        let mut connection = self.connection.clone();
        command
            .query_async(&mut connection)
            .await
            .map_err(|err| error::map(err, operation, stream).with_endpoint(&self.endpoint))
    }
}

#[async_trait]
impl MessageQueueBase for RedisBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            replay: true,
            // Only as durable as the server's persistence settings.
            durable: true,
            shared: true,
            claims_abandoned: true,
            broker_retries: false,
            lag: true,
        }
    }

    async fn publish(&self, message: Message) -> Result<()> {
        check_outgoing(BACKEND, &message, self.max_message_bytes)?;
        let stream = self.stream(&message.topic);
        let _: String = self
            .run(&self.xadd(&stream, &message), "mq.publish", &stream)
            .await?;
        Ok(())
    }

    async fn publish_batch(&self, messages: Vec<Message>) -> Result<()> {
        let Some(first) = messages.first() else {
            return Ok(());
        };
        check_batch(BACKEND, &messages, self.max_message_bytes)?;
        let stream = self.stream(&first.topic);
        let mut pipe = redis::pipe();
        for message in &messages {
            pipe.add_command(self.xadd(&self.stream(&message.topic), message));
        }
        let mut connection = self.connection.clone();
        let _: Vec<String> = pipe
            .query_async(&mut connection)
            .await
            .map_err(|err| error::map(err, "mq.publish_batch", &stream))?;
        Ok(())
    }

    async fn consume(
        &self,
        topic: &str,
        group: &str,
        handler: SharedHandler,
        options: ConsumeOptions,
    ) -> Result<Consumer> {
        check_consume(BACKEND, topic, group, &options)?;
        let stream = self.stream(topic);
        let start = match options.start {
            StartPosition::Earliest => "0",
            StartPosition::Latest => "$",
        };
        self.create_group(&stream, group, start).await?;
        // Blocking reads hold their connection: give this consumer its own.
        let reader = manager(&self.client, BLOCK + Duration::from_secs(5))
            .await
            .map_err(|err| error::map(err, "mq.consume", &stream).with_endpoint(&self.endpoint))?;
        let lag = GroupLag {
            backend: self.clone(),
            stream: stream.clone(),
            group: group.to_string(),
        };
        let source = RedisSource {
            acks: acks::Acknowledger::start(self.connection.clone(), &stream, group),
            backend: self.clone(),
            topic: topic.to_string(),
            reader,
            stream,
            group: group.to_string(),
            consumer: format!("{group}-{}", uuid::Uuid::now_v7().simple()),
            claim_after: options.claim_after,
            next_claim: Instant::now(),
        };
        Ok(raw::spawn(
            Arc::new(self.clone()),
            Box::new(source),
            topic,
            group,
            handler,
            options,
        )
        .with_lag(lag))
    }

    async fn health(&self, timeout: Duration) -> Result<()> {
        let mut connection = self.connection.clone();
        raw::health_within(BACKEND, timeout, async move {
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .map(drop)
                .map_err(|err| error::map(err, "mq.health", "").with_endpoint(&self.endpoint))
        })
        .await
    }

    async fn close(&self) -> Result<()> {
        // The connection manager closes when the last clone is dropped.
        Ok(())
    }
}

fn busy_group(err: &Error) -> bool {
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<redis::RedisError>())
        .is_some_and(|source| source.code() == Some("BUSYGROUP"))
}

struct RedisSource {
    acks: acks::Acknowledger,
    backend: RedisBackend,
    topic: String,
    reader: ConnectionManager,
    stream: String,
    group: String,
    consumer: String,
    claim_after: Duration,
    next_claim: Instant,
}

impl RedisSource {
    /// The message an entry holds; an entry that holds none is quarantined.
    async fn inbound(&self, entry: StreamId, attempt: u32) -> Option<Inbound> {
        let StreamId { id, map, .. } = entry;
        match codec::decode(map, &self.topic) {
            Ok(message) => Some(Inbound {
                lane: lane_of(&message),
                attempt,
                message,
                ack: Box::new(self.acks.ack(id)),
            }),
            Err(problem) => {
                let err = Error::internal(format!(
                    "a stream entry is not a core-mq message: {problem}"
                ))
                .with_operation("mq.consume")
                .with_backend(BACKEND)
                .with_key(self.stream.clone())
                .with_context("entry", &id);
                self.quarantine(id, err).await;
                None
            }
        }
    }

    /// Takes over entries other consumers of the group left pending longer
    /// than `claim_after` (they crashed or were killed).
    async fn claim(&mut self, max: usize) -> Result<Vec<Inbound>> {
        let min_idle = u64::try_from(self.claim_after.as_millis()).unwrap_or(u64::MAX);
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&self.consumer)
            .arg(min_idle)
            .arg("0")
            .arg("COUNT")
            .arg(max)
            .query_async(&mut self.reader)
            .await
            .map_err(|err| error::map(err, "mq.claim", &self.stream))?;
        if !reply.deleted_ids.is_empty() {
            tracing::error!(
                stream = %self.stream,
                group = %self.group,
                lost = reply.deleted_ids.len(),
                "pending entries were trimmed away (MAXLEN) before any consumer acknowledged them"
            );
        }
        if reply.claimed.is_empty() {
            return Ok(Vec::new());
        }
        let counts = self.delivery_counts(&reply.claimed).await?;
        let mut claimed = Vec::with_capacity(reply.claimed.len());
        for entry in reply.claimed {
            let attempt = counts.get(&entry.id).copied().unwrap_or(2);
            claimed.extend(self.inbound(entry, attempt).await);
        }
        Ok(claimed)
    }

    /// How often each entry has been delivered, from `XPENDING`.
    async fn delivery_counts(
        &mut self,
        entries: &[redis::streams::StreamId],
    ) -> Result<HashMap<String, u32>> {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(HashMap::new());
        };
        let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&first.id)
            .arg(&last.id)
            .arg(entries.len())
            .arg(&self.consumer)
            .query_async(&mut self.reader)
            .await
            .map_err(|err| error::map(err, "mq.claim", &self.stream))?;
        Ok(pending
            .into_iter()
            .map(|(id, _, _, count)| (id, u32::try_from(count).unwrap_or(u32::MAX)))
            .collect())
    }

    /// An entry that is not a message (written by something else) can never
    /// be handled: acknowledge it so it does not block the group, and say so.
    async fn quarantine(&self, entry: String, err: Error) {
        tracing::error!(stream = %self.stream, entry = %entry, error = %err, "skipping a malformed entry");
        let _ = Box::new(self.acks.ack(entry)).ack().await;
    }
}

#[async_trait]
impl Source for RedisSource {
    async fn fetch(&mut self, max: usize) -> Result<Vec<Inbound>> {
        match self.read(max).await {
            Err(err) if err.kind() == core_error::ErrorKind::NotFound => {
                // NOGROUP: the stream is gone (deleted, or a Redis without
                // persistence restarted). Recreate it so the consumer
                // carries on with what is published from now on.
                tracing::error!(
                    stream = %self.stream,
                    group = %self.group,
                    "the stream or its group vanished; recreating them"
                );
                self.backend
                    .create_group(&self.stream, &self.group, "0")
                    .await?;
                Ok(Vec::new())
            }
            other => other,
        }
    }

    async fn close(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

impl RedisSource {
    /// Claims abandoned entries when due, else reads new ones.
    async fn read(&mut self, max: usize) -> Result<Vec<Inbound>> {
        if Instant::now() >= self.next_claim {
            // Claim checks cost a round trip; a tenth of the idle limit is
            // often enough to notice a dead consumer soon after it counts as dead.
            self.next_claim = Instant::now() + (self.claim_after / 10).max(BLOCK);
            let claimed = self.claim(max).await?;
            if !claimed.is_empty() {
                return Ok(claimed);
            }
        }
        let read: Result<Option<StreamReadReply>> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(max)
            .arg("BLOCK")
            .arg(u64::try_from(BLOCK.as_millis()).unwrap_or(500))
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">")
            .query_async(&mut self.reader)
            .await
            .map_err(|err| error::map(err, "mq.fetch", &self.stream));
        let reply = read?;
        let mut batch = Vec::new();
        for key in reply.map(|reply| reply.keys).unwrap_or_default() {
            for entry in key.ids {
                batch.extend(self.inbound(entry, 1).await);
            }
        }
        Ok(batch)
    }
}

/// A group's lag from `XINFO GROUPS`: entries not yet delivered to it
/// (`lag`) plus those delivered and not acknowledged (`pending`).
struct GroupLag {
    backend: RedisBackend,
    stream: String,
    group: String,
}

#[async_trait]
impl LagProbe for GroupLag {
    async fn lag(&self) -> Result<u64> {
        let info = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&self.stream)
            .to_owned();
        let reply: StreamInfoGroupsReply = self.backend.run(&info, "mq.lag", &self.stream).await?;
        let group = reply
            .groups
            .into_iter()
            .find(|group| group.name == self.group)
            .ok_or_else(|| {
                Error::not_found("the consumer group does not exist on the stream")
                    .with_operation("mq.lag")
                    .with_backend(BACKEND)
                    .with_key(self.stream.clone())
                    .with_context("group", &self.group)
            })?;
        // Redis leaves `lag` unknown after entries in the group's unread
        // range were deleted (XDEL, trimming); it is known again once the
        // group has read past them.
        let undelivered = group.lag.ok_or_else(|| {
            Error::unavailable(
                "Redis cannot tell this group's lag now: entries it has not read were deleted",
            )
            .with_operation("mq.lag")
            .with_backend(BACKEND)
            .with_key(self.stream.clone())
            .with_context("group", &self.group)
        })?;
        Ok((undelivered + group.pending) as u64)
    }
}
