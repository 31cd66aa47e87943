//! The rules that apply when the environment is `prod`.

use super::{Rule, Violations};
use crate::sensitive::{is_strong_secret_name, last_segment};
use crate::{AppEnv, ConfigTree};

/// Where core-auth reads JWT keys: the one-key shorthand
/// (`APP__AUTH__JWT__SECRET`) and the full key list.
const DEFAULT_JWT_KEY_PATHS: [&str; 2] = ["auth.jwt.secret", "auth.jwt.keys"];

/// What production demands of every service; on by default, checked only
/// when the environment is [`AppEnv::Prod`].
///
/// - no setting named `debug` (at any depth) is on;
/// - no text setting holds a placeholder such as `CHANGE_ME`;
/// - every shared secret (a setting named `secret`, `*_secret`, `token`,
///   `*_token`, `*api_key`, `*signing_key`) is at least
///   [`min_secret_len`](ProductionRules::min_secret_len) bytes;
/// - no setting under a `cors` section allows the origin `*`;
/// - JWT key material is present at one of
///   [`jwt_key_paths`](ProductionRules::jwt_key_paths) (by default core-auth's
///   `auth.jwt.secret` shorthand or a non-empty `auth.jwt.keys` list);
/// - the config echo ([`echo`](ProductionRules::echo)) is off;
/// - no URL names a server outside loopback without TLS (`postgres://` without
///   `sslmode=require` or stronger, `mysql://` without `ssl-mode=REQUIRED` or
///   stronger, `redis://`, `amqp://`, `http://`, `nats://`, `mongodb://`
///   without `tls=true`, `memcached://`/`tcp://` (use `memcacheds://`), `kafka://` without
///   `mq.kafka.security.protocol` `ssl` or `sasl_ssl`), unless the setting is
///   listed in [`ALLOW_PLAINTEXT_SETTING`] (`config.allow_plaintext`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductionRules {
    /// Whether these rules run at all in prod.
    pub enabled: bool,
    /// Text that marks a value as never filled in, compared case-insensitively.
    pub placeholders: Vec<String>,
    /// The shortest shared secret accepted, in bytes.
    pub min_secret_len: usize,
    /// Where JWT key material may live; prod requires at least one of these
    /// paths to hold a non-empty value, and reports the violation at the
    /// first. Empty for a service without JWTs.
    pub jwt_key_paths: Vec<String>,
    /// The switch that prints the effective config at start-up.
    pub echo: String,
}

impl Default for ProductionRules {
    fn default() -> ProductionRules {
        ProductionRules {
            enabled: true,
            placeholders: [
                "CHANGE_ME",
                "CHANGEME",
                "REPLACE_ME",
                "PLACEHOLDER",
                "<secret>",
                "<password>",
            ]
            .map(String::from)
            .to_vec(),
            min_secret_len: 32,
            jwt_key_paths: DEFAULT_JWT_KEY_PATHS.map(String::from).to_vec(),
            echo: crate::ECHO_SETTING.to_string(),
        }
    }
}

/// The list of settings allowed to name a server outside loopback without
/// TLS in prod, such as `["cache.url"]` for a Redis inside a private network
/// that offers no TLS.
pub const ALLOW_PLAINTEXT_SETTING: &str = "config.allow_plaintext";

impl Rule for ProductionRules {
    fn check(&self, tree: &ConfigTree, env: AppEnv, out: &mut Violations) {
        if !self.enabled || !env.is_production() {
            return;
        }
        let placeholders: Vec<String> = self
            .placeholders
            .iter()
            .map(|p| p.to_ascii_lowercase())
            .collect();
        for (path, leaf) in tree.leaves() {
            let name = last_segment(&path);
            if name.eq_ignore_ascii_case("debug") && leaf.as_bool() == Some(true) {
                out.push(path.clone(), "debug must be off in prod");
            }
            let Some(text) = leaf.as_str() else {
                continue;
            };
            let lower = text.to_ascii_lowercase();
            if placeholders.iter().any(|p| lower.contains(p.as_str())) {
                out.push(path.clone(), "holds a placeholder value; set the real one");
            }
            if is_strong_secret_name(name) && text.len() < self.min_secret_len {
                out.push(
                    path.clone(),
                    format!("secret is shorter than {} bytes", self.min_secret_len),
                );
            }
            let in_cors = path
                .split('.')
                .any(|segment| segment.to_ascii_lowercase().contains("cors"));
            if in_cors && text.split(',').any(|origin| origin.trim() == "*") {
                out.push(
                    path.clone(),
                    "wildcard CORS origin \"*\" is not allowed in prod",
                );
            }
        }
        let allowed = plaintext_allowed(tree);
        for (path, leaf) in tree.leaves() {
            let Some(text) = leaf.as_str() else {
                continue;
            };
            let setting = path.split('[').next().unwrap_or(&path);
            if allowed.iter().any(|allowed| allowed == setting) {
                continue;
            }
            if let Some((scheme, host, hint)) = plaintext_remote(text) {
                // Kafka's TLS is a setting beside the URL, not part of it.
                if scheme == "kafka" && kafka_tls_configured(tree, setting) {
                    continue;
                }
                out.push(
                    path.clone(),
                    format!(
                        "{scheme}:// to {host} is not encrypted; {hint}, or list \"{setting}\" in \
                         {ALLOW_PLAINTEXT_SETTING} if that is intended"
                    ),
                );
            }
        }
        if let Some(first) = self.jwt_key_paths.first()
            && !self.jwt_key_paths.iter().any(|path| tree.contains(path))
        {
            let message = if self.jwt_key_paths.len() == 1 {
                "JWT key is required in prod".to_string()
            } else {
                format!(
                    "JWT key is required in prod: set one of {}",
                    self.jwt_key_paths.join(", ")
                )
            };
            out.push(first.clone(), message);
        }
        if tree.get_bool(&self.echo) == Some(true) {
            out.push(self.echo.clone(), "config echo must be off in prod");
        }
    }
}

/// The settings listed in `config.allow_plaintext`.
fn plaintext_allowed(tree: &ConfigTree) -> Vec<String> {
    tree.leaves()
        .into_iter()
        .filter(|(path, _)| {
            path.strip_prefix(ALLOW_PLAINTEXT_SETTING)
                .is_some_and(|rest| rest.starts_with('['))
        })
        .filter_map(|(_, leaf)| leaf.as_str().map(|text| text.trim().to_string()))
        .collect()
}

/// `(scheme, first remote host, how to encrypt)` when `text` is a URL to a
/// server outside loopback that the URL does not ask to reach over TLS.
pub(crate) fn plaintext_remote(text: &str) -> Option<(String, String, &'static str)> {
    let (scheme, rest) = text.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let (rest, _) = rest.split_once('#').unwrap_or((rest, ""));
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = location.split('/').next().unwrap_or_default();
    let hosts = authority
        .rsplit_once('@')
        .map_or(authority, |(_, hosts)| hosts);
    let param = |names: &[&str]| -> Option<String> {
        query.split('&').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            names
                .iter()
                .any(|wanted| wanted.eq_ignore_ascii_case(name))
                .then(|| value.to_ascii_lowercase())
        })
    };
    let hint = match scheme.as_str() {
        "postgres" | "postgresql" => match param(&["sslmode"]).as_deref() {
            Some("require" | "verify-ca" | "verify-full") => return None,
            _ => "add sslmode=verify-full (or require)",
        },
        "mysql" | "mariadb" => match param(&["ssl-mode", "sslmode"]).as_deref() {
            Some("required" | "verify_ca" | "verify_identity") => return None,
            _ => "add ssl-mode=VERIFY_IDENTITY (or REQUIRED)",
        },
        "mongodb" | "mongodb+srv" => {
            let asked = param(&["tls", "ssl"]);
            let on = match asked.as_deref() {
                Some("true") => true,
                Some(_) => false,
                // mongodb+srv:// means TLS unless told otherwise.
                None => scheme == "mongodb+srv",
            };
            if on {
                return None;
            }
            "add tls=true"
        }
        "redis" => "use rediss://",
        "redis-cluster" => "use rediss-cluster://",
        "amqp" => "use amqps://",
        "http" => "use https://",
        "nats" => "use tls:// (NATS over TLS)",
        "kafka" => "set mq.kafka.security.protocol to ssl or sasl_ssl",
        "memcached" | "memcache" | "tcp" => "use memcacheds:// (Memcached over TLS)",
        _ => return None,
    };
    let remote = hosts
        .split(',')
        .map(host_name)
        .find(|host| !host.is_empty() && !is_loopback(host))?;
    Some((scheme, remote.to_string(), hint))
}

/// Whether the Kafka URL at `setting` (`mq.url`) has a TLS protocol beside
/// it (`mq.kafka.security.protocol`).
fn kafka_tls_configured(tree: &ConfigTree, setting: &str) -> bool {
    let section = setting.rsplit_once('.').map_or("", |(section, _)| section);
    let path = if section.is_empty() {
        "kafka.security.protocol".to_string()
    } else {
        format!("{section}.kafka.security.protocol")
    };
    matches!(tree.get_str(&path), Some("ssl" | "sasl_ssl"))
}

/// `host` of `host:port` or `[v6]:port`.
fn host_name(entry: &str) -> &str {
    let entry = entry.trim();
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    entry.rsplit_once(':').map_or(entry, |(host, _)| host)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::plaintext_remote;

    #[test]
    fn which_urls_are_plaintext_to_a_remote_host() {
        let remote =
            |text| plaintext_remote(text).map(|(scheme, host, _)| format!("{scheme} {host}"));
        assert_eq!(
            remote("postgres://u:p@db.internal:5432/app").as_deref(),
            Some("postgres db.internal")
        );
        assert_eq!(
            remote("postgres://u:p@db.internal/app?sslmode=verify-full"),
            None
        );
        assert_eq!(remote("postgres://u@127.0.0.1/app"), None);
        assert_eq!(remote("mysql://u@db:3306/app?ssl-mode=REQUIRED"), None);
        assert_eq!(
            remote("mysql://u@db:3306/app?ssl-mode=PREFERRED").as_deref(),
            Some("mysql db")
        );
        assert_eq!(
            remote("redis://cache:6379/0").as_deref(),
            Some("redis cache")
        );
        assert_eq!(remote("rediss://cache:6380/0"), None);
        assert_eq!(remote("redis://[::1]:6379"), None);
        assert_eq!(remote("amqp://mq/%2f").as_deref(), Some("amqp mq"));
        assert_eq!(remote("mongodb://h1,h2:27018/?tls=true"), None);
        assert_eq!(
            remote("mongodb://localhost,h2:27018/db").as_deref(),
            Some("mongodb h2")
        );
        assert_eq!(remote("mongodb+srv://cluster.example.com/db"), None);
        assert_eq!(
            remote("http://collector:4318").as_deref(),
            Some("http collector")
        );
        assert_eq!(
            remote("kafka://k1:9092,k2:9092").as_deref(),
            Some("kafka k1")
        );
        assert_eq!(
            remote("redis-cluster://r1:7000,r2:7001").as_deref(),
            Some("redis-cluster r1")
        );
        assert_eq!(remote("rediss-cluster://r1:7000,r2:7001"), None);
        assert_eq!(
            remote("nats://app:pw@nats.internal:4222").as_deref(),
            Some("nats nats.internal")
        );
        assert_eq!(remote("tls://app:pw@nats.internal:4222"), None);
        assert_eq!(
            remote("memcached://cache.internal:11211").as_deref(),
            Some("memcached cache.internal")
        );
        assert_eq!(
            plaintext_remote("memcached://cache.internal:11211").map(|(_, _, hint)| hint),
            Some("use memcacheds:// (Memcached over TLS)")
        );
        assert_eq!(remote("memcacheds://cache.internal:11212"), None);
        assert_eq!(remote("sqlite://data/app.db"), None);
        assert_eq!(remote("memory://"), None);
        assert_eq!(remote("not a url"), None);
    }
}
