//! Redis Cluster: the Redis backend over the driver's cluster connection,
//! which discovers the nodes, reconnects, and follows `MOVED`/`ASK`.
//!
//! What a cluster needs done differently: a `MULTI`/`EXEC` may only cover
//! keys of one hash slot, so `set_many` is atomic per slot and not across
//! the batch; `get_many` and `delete_many` are split per slot by the driver
//! (answers kept in the caller's order); and `delete_prefix` scans every
//! master. A batch's per-slot commands go out together, pipelined on one
//! connection per node, so it still waits about one round trip. The lock's
//! scripts touch one key and run as they do on one server.

use std::collections::HashMap;
use std::future::Future;

use bytes::Bytes;
use core_error::{Error, Result};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
};
use redis::{Cmd, FromRedisValue, RedisResult, Value};
use secrecy::ExposeSecret as _;

use super::client::{TlsUrl, connect_error};
use super::topology::Topology;
use super::{RedisBackend, RedisConfig, error};

/// The Redis backend over a Redis Cluster.
pub type RedisClusterBackend = RedisBackend<ClusterConnection>;

/// A master node of the cluster, as the driver names it.
pub struct Master {
    host: String,
    port: u16,
}

impl Topology for ClusterConnection {
    const BACKEND: &'static str = "redis-cluster";
    type Node = Master;

    fn atomic_groups(entries: &[(String, Bytes)]) -> Vec<Vec<&(String, Bytes)>> {
        let mut by_slot: HashMap<Route, Vec<&(String, Bytes)>> = HashMap::new();
        for entry in entries {
            by_slot
                .entry(Route::with_key(entry.0.as_bytes(), SlotAddr::Master))
                .or_default()
                .push(entry);
        }
        by_slot.into_values().collect()
    }

    async fn keyspace_nodes(&mut self) -> RedisResult<Vec<Master>> {
        // Sent to every master without a response policy, a command answers
        // with a map from each master's address to its reply.
        let every_master = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
        let replies = self.route_command(redis::cmd("PING"), every_master).await?;
        let Value::Map(replies) = replies else {
            return Err(unexpected("PING to every master", &replies));
        };
        replies
            .into_iter()
            .map(|(address, _)| {
                let address = String::from_redis_value(address)?;
                address
                    .rsplit_once(':')
                    .and_then(|(host, port)| {
                        Some(Master {
                            host: host.to_string(),
                            port: port.parse().ok()?,
                        })
                    })
                    .ok_or_else(|| unexpected("a master's address", &address))
            })
            .collect()
    }

    fn query_node<T: FromRedisValue>(
        &mut self,
        node: &Master,
        command: &Cmd,
    ) -> impl Future<Output = RedisResult<T>> + Send {
        let at_node = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
            host: node.host.clone(),
            port: node.port,
        });
        let reply = self.route_command(command.clone(), at_node);
        async move { Ok(T::from_redis_value(reply.await?)?) }
    }
}

fn unexpected(what: &str, got: &dyn std::fmt::Debug) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "the cluster answered in an unexpected form",
        format!("{what}: {got:?}"),
    ))
}

/// The node URLs a `redis-cluster://[user:password@]host:port[,host:port…]`
/// URL names, each carrying the credentials.
fn seed_nodes(url: &str) -> Option<Vec<String>> {
    let (scheme, rest) = url.split_once("://")?;
    let node_scheme = match scheme {
        "redis-cluster" => "redis",
        "rediss-cluster" => "rediss",
        _ => return None,
    };
    let (credentials, hosts) = match rest.rsplit_once('@') {
        Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
        None => (String::new(), rest),
    };
    // A cluster has database 0 only, and options go in the settings.
    let hosts = hosts.strip_suffix('/').unwrap_or(hosts);
    if hosts.contains(['/', '?', '#']) {
        return None;
    }
    hosts
        .split(',')
        .map(|host| (!host.is_empty()).then(|| format!("{node_scheme}://{credentials}{host}")))
        .collect()
}

/// The Redis Cluster registration's connect function.
pub(in crate::backends::redis) fn open_cluster(
    settings: &crate::CacheSettings,
) -> futures::future::BoxFuture<'_, Result<std::sync::Arc<dyn crate::CacheBase>>> {
    Box::pin(async move {
        let url = secrecy::ExposeSecret::expose_secret(&settings.url);
        let config = RedisConfig::with_settings(url, &settings.redis);
        let backend = RedisBackend::connect_cluster(&config).await?;
        Ok(std::sync::Arc::new(backend) as std::sync::Arc<dyn crate::CacheBase>)
    })
}

impl RedisBackend<ClusterConnection> {
    /// Connects to the cluster whose seed nodes `config.url` names
    /// (`redis-cluster://[user:password@]host:port[,host:port…]`, or
    /// `rediss-cluster://…` for TLS, verified against the system's roots or
    /// the `sslrootcert=` CA, with an optional `sslcert=`/`sslkey=` client
    /// certificate, as for one server).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a malformed
    /// URL; [`Unavailable`](core_error::ErrorKind::Unavailable) when no seed
    /// node can be reached or the cluster is down.
    pub async fn connect_cluster(config: &RedisConfig) -> Result<RedisClusterBackend> {
        let url = config.url.expose_secret();
        let endpoint = core_error::redact_endpoint(url);
        let malformed = || {
            Error::invalid_input(
                "the Redis Cluster URL is malformed; expected redis-cluster://[user:password@]host:port[,host:port...]",
            )
            .with_operation("cache.connect")
            .with_backend(ClusterConnection::BACKEND)
            .with_endpoint(&endpoint)
        };
        let tls = TlsUrl::parse(
            url,
            "rediss-cluster://",
            "cache.connect",
            ClusterConnection::BACKEND,
        )?;
        let nodes = seed_nodes(&tls.url).ok_or_else(malformed)?;
        let mut builder = ClusterClient::builder(nodes).connection_timeout(config.connect_timeout);
        if let Some(response_timeout) = config.response_timeout {
            builder = builder.response_timeout(response_timeout);
        }
        if let Some(certificates) = tls.certificates {
            builder = builder.certs(certificates);
        }
        let client = builder
            .build()
            .map_err(|err| malformed().with_source(err))?;
        let connection = client.get_async_connection().await.map_err(|err| {
            let error = error::map(err, ClusterConnection::BACKEND, "cache.connect", "")
                .with_endpoint(&endpoint);
            connect_error(error, url)
        })?;
        Ok(RedisBackend::with_connection(connection, endpoint))
    }
}

#[cfg(test)]
mod tests {
    use super::seed_nodes;

    #[test]
    fn seed_nodes_carry_the_credentials_to_every_node() {
        assert_eq!(
            seed_nodes("redis-cluster://u:p@h1:7000,h2:7001/").unwrap(),
            ["redis://u:p@h1:7000", "redis://u:p@h2:7001"]
        );
        assert_eq!(
            seed_nodes("rediss-cluster://h1:7000").unwrap(),
            ["rediss://h1:7000"]
        );
    }

    #[test]
    fn malformed_cluster_urls_are_refused() {
        for url in [
            "redis://h1:7000",
            "redis-cluster://",
            "redis-cluster://h1:7000,,h2:7001",
            "redis-cluster://h1:7000/1",
            "redis-cluster://h1:7000?timeout=1",
        ] {
            assert_eq!(seed_nodes(url), None, "{url}");
        }
    }
}
