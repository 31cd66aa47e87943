//! The servers the test suites run against, and where to find them.

use std::fmt;

/// A server that some backend's tests need.
///
/// Each one is found through an environment variable, falling back to the
/// address `scripts/services.sh` starts it on:
///
/// | service | variable | default |
/// |---|---|---|
/// | PostgreSQL | `DATABASE_URL_POSTGRES` | `postgres://postgres@127.0.0.1:5432/test` |
/// | MySQL / MariaDB | `DATABASE_URL_MYSQL` | `mysql://root@127.0.0.1:3306/test` |
/// | MongoDB wire | `MONGODB_URL` | `mongodb://127.0.0.1:27017/?directConnection=true` |
/// | Redis | `REDIS_URL` | `redis://127.0.0.1:6379` |
/// | Redis with AOF persistence | `REDIS_DURABLE_URL` | `redis://127.0.0.1:6380` |
/// | Redis Cluster | `REDIS_CLUSTER_URL` | `redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002` |
/// | Redis Cluster over TLS | `REDIS_CLUSTER_TLS_URL` | `rediss-cluster://127.0.0.1:7100,127.0.0.1:7101,127.0.0.1:7102` |
/// | Memcached | `MEMCACHED_URL` | `tcp://127.0.0.1:11211` |
/// | RabbitMQ | `AMQP_URL` | `amqp://guest:guest@127.0.0.1:5672/%2f` |
/// | Kafka protocol | `KAFKA_BROKERS` | `127.0.0.1:9092` |
/// | Kafka protocol, durable storage | `KAFKA_DURABLE_BROKERS` | `127.0.0.1:9094` |
/// | NATS | `NATS_URL` | `nats://127.0.0.1:4222` |
/// | Memcached over TLS | `MEMCACHED_TLS_URL` | `memcacheds://127.0.0.1:11212` |
///
/// ```
/// use core_testkit::Service;
///
/// assert_eq!(Service::Redis.env_var(), "REDIS_URL");
/// assert_eq!(Service::Kafka.default_port(), 9092);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
    /// A server speaking the MongoDB wire protocol.
    MongoDb,
    /// Redis.
    Redis,
    /// Redis with every write in its append-only file before it answers, for
    /// tests that restart the server and expect the data to survive.
    RedisDurable,
    /// A Redis Cluster, named by a `redis-cluster://` URL listing seed
    /// nodes (`host:port`, comma-separated), as core-cache reads it.
    RedisCluster,
    /// Memcached.
    Memcached,
    /// RabbitMQ (AMQP 0-9-1).
    RabbitMq,
    /// A broker speaking the Kafka protocol.
    Kafka,
    /// A Kafka-protocol broker whose storage survives its restart, for
    /// tests that restart the broker and expect no message lost.
    KafkaDurable,
    /// NATS with JetStream.
    Nats,
    /// NATS with JetStream over TLS only (the project CA), a client
    /// certificate required.
    NatsTls,
    /// MariaDB over TLS (the project CA), user `app` with `REQUIRE SSL`.
    MySqlTls,
    /// Kafka over TLS (a TLS terminator with the project CA in front of a
    /// Kafka-protocol broker).
    KafkaTls,
    /// Kafka with SASL SCRAM (user `app`), without TLS.
    KafkaSasl,
    /// PostgreSQL accepting TLS only (the project CA), user `app`; the user
    /// `core-sdk-client` logs in with the project's client certificate.
    PostgresTls,
    /// The MongoDB-wire server behind a TLS terminator (the project CA).
    MongoDbTls,
    /// RabbitMQ behind a TLS terminator (the project CA).
    RabbitMqTls,
    /// Redis over TLS only (the project CA of `scripts/services.sh`), with
    /// the ACL user `app`; client certificates optional.
    RedisTls,
    /// A Redis Cluster of three TLS-only masters (the project CA), cluster
    /// bus over TLS too.
    RedisClusterTls,
    /// etcd (v3 API), plaintext and without authentication.
    Etcd,
    /// Memcached over TLS only (the project CA); client certificates optional.
    MemcachedTls,
    /// etcd over TLS (the project CA of `scripts/services.sh`) with
    /// authentication on.
    EtcdTls,
}

impl Service {
    /// Every service, in the order `scripts/services.sh` starts them.
    pub const ALL: [Service; 23] = [
        Service::Postgres,
        Service::MySql,
        Service::Redis,
        Service::RabbitMq,
        Service::Nats,
        Service::Memcached,
        Service::Kafka,
        Service::MongoDb,
        Service::RedisCluster,
        Service::RedisDurable,
        Service::KafkaDurable,
        Service::Etcd,
        Service::EtcdTls,
        Service::RedisTls,
        Service::RedisClusterTls,
        Service::MySqlTls,
        Service::MongoDbTls,
        Service::RabbitMqTls,
        Service::PostgresTls,
        Service::KafkaTls,
        Service::KafkaSasl,
        Service::NatsTls,
        Service::MemcachedTls,
    ];

    /// The name used in skip messages and failures.
    pub const fn name(self) -> &'static str {
        match self {
            Service::Postgres => "PostgreSQL",
            Service::MySql => "MySQL/MariaDB",
            Service::MongoDb => "MongoDB",
            Service::Redis => "Redis",
            Service::RedisCluster => "Redis Cluster",
            Service::RedisDurable => "Redis (AOF)",
            Service::KafkaDurable => "Kafka (durable storage)",
            Service::Memcached => "Memcached",
            Service::RabbitMq => "RabbitMQ",
            Service::Kafka => "Kafka",
            Service::Nats => "NATS",
            Service::NatsTls => "NATS (TLS)",
            Service::MemcachedTls => "Memcached (TLS)",
            Service::RedisTls => "Redis (TLS)",
            Service::RedisClusterTls => "Redis Cluster (TLS)",
            Service::MySqlTls => "MariaDB (TLS)",
            Service::PostgresTls => "PostgreSQL (TLS)",
            Service::KafkaTls => "Kafka (TLS)",
            Service::KafkaSasl => "Kafka (SASL)",
            Service::MongoDbTls => "MongoDB (TLS)",
            Service::RabbitMqTls => "RabbitMQ (TLS)",
            Service::Etcd => "etcd",
            Service::EtcdTls => "etcd (TLS)",
        }
    }

    /// The environment variable that overrides this service's URL.
    pub const fn env_var(self) -> &'static str {
        match self {
            Service::Postgres => "DATABASE_URL_POSTGRES",
            Service::MySql => "DATABASE_URL_MYSQL",
            Service::MongoDb => "MONGODB_URL",
            Service::Redis => "REDIS_URL",
            Service::RedisCluster => "REDIS_CLUSTER_URL",
            Service::RedisDurable => "REDIS_DURABLE_URL",
            Service::KafkaDurable => "KAFKA_DURABLE_BROKERS",
            Service::Memcached => "MEMCACHED_URL",
            Service::RabbitMq => "AMQP_URL",
            Service::Kafka => "KAFKA_BROKERS",
            Service::Nats => "NATS_URL",
            Service::NatsTls => "NATS_TLS_URL",
            Service::MemcachedTls => "MEMCACHED_TLS_URL",
            Service::RedisTls => "REDIS_TLS_URL",
            Service::RedisClusterTls => "REDIS_CLUSTER_TLS_URL",
            Service::MySqlTls => "DATABASE_URL_MYSQL_TLS",
            Service::PostgresTls => "DATABASE_URL_POSTGRES_TLS",
            Service::KafkaTls => "KAFKA_TLS_BROKERS",
            Service::KafkaSasl => "KAFKA_SASL_BROKERS",
            Service::MongoDbTls => "MONGODB_TLS_URL",
            Service::RabbitMqTls => "AMQPS_URL",
            Service::Etcd => "ETCD_URL",
            Service::EtcdTls => "ETCD_TLS_URL",
        }
    }

    /// The URL used when the environment variable is not set.
    pub const fn default_url(self) -> &'static str {
        match self {
            Service::Postgres => "postgres://postgres@127.0.0.1:5432/test",
            Service::MySql => "mysql://root@127.0.0.1:3306/test",
            Service::MongoDb => "mongodb://127.0.0.1:27017/?directConnection=true",
            Service::Redis => "redis://127.0.0.1:6379",
            Service::RedisCluster => "redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002",
            Service::RedisDurable => "redis://127.0.0.1:6380",
            Service::KafkaDurable => "127.0.0.1:9094",
            Service::Memcached => "tcp://127.0.0.1:11211",
            Service::RabbitMq => "amqp://guest:guest@127.0.0.1:5672/%2f",
            Service::Kafka => "127.0.0.1:9092",
            Service::Nats => "nats://127.0.0.1:4222",
            Service::NatsTls => "tls://127.0.0.1:4223",
            Service::MemcachedTls => "memcacheds://127.0.0.1:11212",
            Service::RedisTls => "rediss://127.0.0.1:6390",
            Service::RedisClusterTls => {
                "rediss-cluster://127.0.0.1:7100,127.0.0.1:7101,127.0.0.1:7102"
            }
            Service::MySqlTls => "mysql://app:core-sdk-maria-pw@127.0.0.1:3307/test",
            Service::PostgresTls => "postgres://app:core-sdk-pg-pw@127.0.0.1:5433/test",
            Service::KafkaTls => "127.0.0.1:9095",
            Service::KafkaSasl => "127.0.0.1:9096",
            Service::MongoDbTls => "mongodb://127.0.0.1:27018/?directConnection=true",
            Service::RabbitMqTls => "amqps://guest:guest@127.0.0.1:5671/%2f",
            Service::Etcd => "http://127.0.0.1:2379",
            Service::EtcdTls => "https://127.0.0.1:2381",
        }
    }

    /// The folder of the throwaway CA and certificates `scripts/services.sh`
    /// makes for the TLS listeners (`ca.pem`, `server.pem`, `client.pem`,
    /// `client.key`, `expired.pem`, `other-ca.pem`): `CORE_TLS_DIR`, else
    /// `/tmp/core-sdk-services/tls`.
    pub fn tls_dir() -> std::path::PathBuf {
        std::env::var("CORE_TLS_DIR")
            .ok()
            .filter(|dir| !dir.trim().is_empty())
            .map_or_else(
                || std::path::PathBuf::from("/tmp/core-sdk-services/tls"),
                std::path::PathBuf::from,
            )
    }

    /// The path of one file of [`tls_dir`](Service::tls_dir), as text for
    /// a URL parameter (`sslrootcert=…`) or a setting.
    ///
    /// ```
    /// use core_testkit::Service;
    ///
    /// assert!(Service::tls_file("ca.pem").ends_with("/ca.pem"));
    /// ```
    pub fn tls_file(name: &str) -> String {
        Service::tls_dir().join(name).display().to_string()
    }

    /// The port assumed when a URL names none.
    pub const fn default_port(self) -> u16 {
        match self {
            Service::Postgres => 5432,
            Service::MySql => 3306,
            Service::MongoDb => 27017,
            Service::Redis => 6379,
            Service::RedisCluster => 7000,
            Service::RedisDurable => 6380,
            Service::KafkaDurable => 9094,
            Service::Memcached => 11211,
            Service::RabbitMq => 5672,
            Service::Kafka => 9092,
            Service::Nats => 4222,
            Service::NatsTls => 4223,
            Service::MemcachedTls => 11212,
            Service::RedisTls => 6390,
            Service::RedisClusterTls => 7100,
            Service::MySqlTls => 3307,
            Service::PostgresTls => 5433,
            Service::KafkaTls => 9095,
            Service::KafkaSasl => 9096,
            Service::MongoDbTls => 27018,
            Service::RabbitMqTls => 5671,
            Service::Etcd => 2379,
            Service::EtcdTls => 2381,
        }
    }

    /// The URL to test against: the environment variable if set and not
    /// empty, else [`default_url`](Service::default_url).
    pub fn url(self) -> String {
        std::env::var(self.env_var())
            .ok()
            .filter(|value| !value.trim().is_empty())
            .unwrap_or_else(|| self.default_url().to_string())
    }

    /// The first `host:port` named by `url`, for a reachability probe.
    ///
    /// Understands `scheme://user:pass@host:port/path`, bare `host:port`,
    /// and comma-separated host lists (`KAFKA_BROKERS`, MongoDB seed lists).
    ///
    /// ```
    /// use core_testkit::Service;
    ///
    /// assert_eq!(
    ///     Service::MongoDb.first_address("mongodb://u:p@h1,h2:27018/db?x=1"),
    ///     "h1:27017"
    /// );
    /// assert_eq!(Service::Kafka.first_address("k1:19092,k2:19092"), "k1:19092");
    /// ```
    pub fn first_address(self, url: &str) -> String {
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
        let hosts = authority.rsplit('@').next().unwrap_or(authority);
        let first = hosts.split(',').next().unwrap_or(hosts);
        let has_port = match first.rfind(']') {
            Some(bracket) => first[bracket..].contains(':'),
            None => first.contains(':'),
        };
        if has_port {
            first.to_string()
        } else {
            format!("{first}:{}", self.default_port())
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
