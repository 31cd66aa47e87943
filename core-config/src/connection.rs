//! Connection URLs for the SDK's servers, with the password kept secret.

use std::fmt;
use std::str::FromStr;

use core_error::{Error, Result};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};

use crate::sensitive::is_sensitive_name;

/// Characters left as they are in a user name or password: RFC 3986's
/// unreserved set. Everything else is percent-encoded.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Characters encoded in a database name or path.
const PATH: &AsciiSet = &USERINFO.remove(b'/').remove(b':');

/// The kind of server a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Driver {
    /// PostgreSQL: `postgres://` or `postgresql://`.
    Postgres,
    /// MySQL or MariaDB: `mysql://` or `mariadb://`.
    Mysql,
    /// SQLite: `sqlite://path`, `sqlite:path` or `sqlite::memory:`.
    Sqlite,
    /// MongoDB: `mongodb://` or `mongodb+srv://`, several hosts allowed.
    Mongodb,
    /// Redis: `redis://` or, with TLS, `rediss://`.
    Redis,
}

impl Driver {
    /// The scheme written when building a URL.
    pub const fn scheme(self) -> &'static str {
        match self {
            Driver::Postgres => "postgres",
            Driver::Mysql => "mysql",
            Driver::Sqlite => "sqlite",
            Driver::Mongodb => "mongodb",
            Driver::Redis => "redis",
        }
    }

    /// The port the server listens on unless told otherwise.
    pub const fn default_port(self) -> Option<u16> {
        match self {
            Driver::Postgres => Some(5432),
            Driver::Mysql => Some(3306),
            Driver::Sqlite => None,
            Driver::Mongodb => Some(27017),
            Driver::Redis => Some(6379),
        }
    }

    fn from_scheme(scheme: &str) -> Option<Driver> {
        Some(match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Driver::Postgres,
            "mysql" | "mariadb" => Driver::Mysql,
            "sqlite" => Driver::Sqlite,
            "mongodb" | "mongodb+srv" => Driver::Mongodb,
            "redis" | "rediss" => Driver::Redis,
            _ => return None,
        })
    }
}

/// One `host[:port]` of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Name or address (IPv6 without brackets).
    pub name: String,
    /// The port, if written.
    pub port: Option<u16>,
}

/// A connection URL whose password is a secret: `Debug` and `Display` show
/// `***` in its place (and in place of the value of a query parameter whose
/// name says it is a secret, such as `sslpassword`), and only
/// [`expose_url`](ConnectionUrl::expose_url) gives the full text,
/// password percent-encoded.
///
/// Build it from parts:
///
/// ```
/// use core_config::{ConnectionUrl, Driver};
/// use secrecy::{ExposeSecret, SecretString};
///
/// let url = ConnectionUrl::new(Driver::Postgres)
///     .with_host("db.internal")
///     .with_port(5432)
///     .with_user("app")
///     .with_password(SecretString::from("p@ss:w/rd"))
///     .with_database("orders");
/// assert_eq!(url.to_string(), "postgres://app:***@db.internal:5432/orders");
/// assert_eq!(
///     url.expose_url().expose_secret(),
///     "postgres://app:p%40ss%3Aw%2Frd@db.internal:5432/orders"
/// );
/// ```
///
/// or parse it, also as a settings field (`url: ConnectionUrl` deserializes
/// from text, and a malformed URL's error never repeats it):
///
/// ```
/// use core_config::{ConnectionUrl, Driver};
/// use secrecy::ExposeSecret;
///
/// let url: ConnectionUrl = "mongodb://root:s3cr%2Bt@h1:27017,h2/app?authSource=admin".parse().unwrap();
/// assert_eq!(url.driver(), Driver::Mongodb);
/// assert_eq!(url.hosts().len(), 2);
/// assert_eq!(url.password().unwrap().expose_secret(), "s3cr+t");
/// assert!(!format!("{url:?}").contains("s3cr"));
/// ```
#[derive(Clone)]
pub struct ConnectionUrl {
    driver: Driver,
    scheme: String,
    user: Option<String>,
    password: Option<SecretString>,
    hosts: Vec<Host>,
    database: Option<String>,
    params: Vec<(String, String)>,
}

impl ConnectionUrl {
    /// An empty URL for `driver`; add parts with the `with_*` methods.
    pub fn new(driver: Driver) -> ConnectionUrl {
        ConnectionUrl {
            driver,
            scheme: driver.scheme().to_string(),
            user: None,
            password: None,
            hosts: Vec::new(),
            database: None,
            params: Vec::new(),
        }
    }

    /// A SQLite URL for the database file at `path` (or `:memory:`).
    pub fn sqlite(path: impl Into<String>) -> ConnectionUrl {
        ConnectionUrl::new(Driver::Sqlite).with_database(path)
    }

    /// Adds a host; for MongoDB, call again for each replica.
    #[must_use]
    pub fn with_host(mut self, host: impl Into<String>) -> ConnectionUrl {
        self.hosts.push(Host {
            name: host.into(),
            port: None,
        });
        self
    }

    /// Sets the port of the last host added (adding `localhost` if none).
    #[must_use]
    pub fn with_port(mut self, port: u16) -> ConnectionUrl {
        if self.hosts.is_empty() {
            self = self.with_host("localhost");
        }
        if let Some(last) = self.hosts.last_mut() {
            last.port = Some(port);
        }
        self
    }

    /// Sets the user name.
    #[must_use]
    pub fn with_user(mut self, user: impl Into<String>) -> ConnectionUrl {
        self.user = Some(user.into());
        self
    }

    /// Sets the password.
    #[must_use]
    pub fn with_password(mut self, password: SecretString) -> ConnectionUrl {
        self.password = Some(password);
        self
    }

    /// Sets the database name (for Redis the database number, for SQLite the
    /// file path).
    #[must_use]
    pub fn with_database(mut self, database: impl Into<String>) -> ConnectionUrl {
        self.database = Some(database.into());
        self
    }

    /// Adds a query parameter such as `sslmode=require`.
    #[must_use]
    pub fn with_param(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> ConnectionUrl {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Reads a URL of one of the [`Driver`]s. User name and password are
    /// percent-decoded. The error names what is wrong, never the URL.
    pub fn parse(text: &str) -> Result<ConnectionUrl> {
        let text = text.trim();
        let (scheme, rest) = match text.split_once("://") {
            Some(parts) => parts,
            None => match text.split_once(':') {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("sqlite") => (scheme, rest),
                _ => return Err(bad_url("it has no scheme:// part")),
            },
        };
        let driver = Driver::from_scheme(scheme).ok_or_else(|| {
            bad_url(&format!(
                "scheme {:?} is not one of postgres, mysql, sqlite, mongodb, redis",
                scheme.chars().take(20).collect::<String>()
            ))
        })?;
        let mut url = ConnectionUrl::new(driver);
        url.scheme = scheme.to_ascii_lowercase();
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        if let Some(query) = query {
            for pair in query.split('&').filter(|pair| !pair.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                url.params.push((name.to_string(), value.to_string()));
            }
        }
        if driver == Driver::Sqlite {
            if !rest.is_empty() {
                url.database = Some(decode(rest, "database path")?);
            }
            return Ok(url);
        }
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash + 1..]),
            None => (rest, ""),
        };
        let hosts = match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                let (user, password) = match userinfo.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (userinfo, None),
                };
                if !user.is_empty() {
                    url.user = Some(decode(user, "user name")?);
                }
                if let Some(password) = password {
                    url.password = Some(SecretString::from(decode(password, "password")?));
                }
                &authority[at + 1..]
            }
            None => authority,
        };
        for host in hosts.split(',').filter(|host| !host.is_empty()) {
            url.hosts.push(parse_host(host)?);
        }
        if url.hosts.is_empty() {
            return Err(bad_url("it names no host"));
        }
        if !path.is_empty() {
            url.database = Some(decode(path, "database name")?);
        }
        Ok(url)
    }

    /// The kind of server.
    pub fn driver(&self) -> Driver {
        self.driver
    }

    /// The hosts, in order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The first host's name.
    pub fn host(&self) -> Option<&str> {
        self.hosts.first().map(|host| host.name.as_str())
    }

    /// The first host's port, or the driver's default port.
    pub fn port(&self) -> Option<u16> {
        self.hosts
            .first()
            .and_then(|host| host.port)
            .or(self.driver.default_port())
    }

    /// The user name.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password.
    pub fn password(&self) -> Option<&SecretString> {
        self.password.as_ref()
    }

    /// The database name, number or file.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The query parameters, in order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The full URL, password included, for handing to a driver.
    pub fn expose_url(&self) -> SecretString {
        SecretString::from(self.render(Secrets::Shown))
    }

    fn render(&self, secrets: Secrets) -> String {
        let mut out = format!("{}://", self.scheme);
        if self.driver == Driver::Sqlite {
            if self.scheme == "sqlite" && self.database.as_deref() == Some(":memory:") {
                out = "sqlite::memory:".to_string();
            } else if let Some(path) = &self.database {
                out.push_str(&utf8_percent_encode(path, PATH).to_string());
            }
        } else {
            if self.user.is_some() || self.password.is_some() {
                if let Some(user) = &self.user {
                    out.push_str(&utf8_percent_encode(user, USERINFO).to_string());
                }
                if let Some(secret) = &self.password {
                    out.push(':');
                    match secrets {
                        Secrets::Shown => out.push_str(
                            &utf8_percent_encode(secret.expose_secret(), USERINFO).to_string(),
                        ),
                        Secrets::Masked => out.push_str("***"),
                    }
                }
                out.push('@');
            }
            let hosts: Vec<String> = self
                .hosts
                .iter()
                .map(|host| {
                    let name = if host.name.contains(':') {
                        format!("[{}]", host.name)
                    } else {
                        host.name.clone()
                    };
                    match host.port {
                        Some(port) => format!("{name}:{port}"),
                        None => name,
                    }
                })
                .collect();
            out.push_str(&hosts.join(","));
            if let Some(database) = &self.database {
                out.push('/');
                out.push_str(&utf8_percent_encode(database, PATH).to_string());
            }
        }
        if !self.params.is_empty() {
            out.push('?');
            let params: Vec<String> = self
                .params
                .iter()
                .map(|(name, value)| {
                    if secrets == Secrets::Masked && is_sensitive_name(name) {
                        format!("{name}=***")
                    } else {
                        format!("{name}={value}")
                    }
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        out
    }
}

/// Whether a rendered URL carries its password and secret-named parameters
/// (for the driver) or `***` in their place (for people and logs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Secrets {
    Shown,
    Masked,
}

fn parse_host(text: &str) -> Result<Host> {
    let (name, port) = if let Some(rest) = text.strip_prefix('[') {
        let (name, after) = rest
            .split_once(']')
            .ok_or_else(|| bad_url("an IPv6 host is missing its closing ]"))?;
        (name, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (text, None),
        }
    };
    if name.is_empty() {
        return Err(bad_url("a host name is empty"));
    }
    let port = match port {
        Some(port) => Some(
            port.parse::<u16>()
                .map_err(|_| bad_url("a port is not a number from 0 to 65535"))?,
        ),
        None => None,
    };
    Ok(Host {
        name: name.to_string(),
        port,
    })
}

fn decode(text: &str, what: &str) -> Result<String> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| bad_url(&format!("its {what} is not UTF-8 once percent-decoded")))
}

fn bad_url(reason: &str) -> Error {
    Error::invalid_input(format!("invalid connection URL: {reason}"))
        .with_operation("config.parse_url")
}

impl FromStr for ConnectionUrl {
    type Err = Error;

    fn from_str(text: &str) -> Result<ConnectionUrl> {
        ConnectionUrl::parse(text)
    }
}

impl fmt::Display for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Secrets::Masked))
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConnectionUrl")
            .field(&self.to_string())
            .finish()
    }
}

impl<'de> serde::Deserialize<'de> for ConnectionUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = SecretString::deserialize(deserializer)?;
        ConnectionUrl::parse(text.expose_secret())
            .map_err(|err| serde::de::Error::custom(err.message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_driver_round_trips_through_parse() {
        let cases = [
            "postgres://app:pw@db:5432/app?sslmode=require",
            "mysql://root:pw@127.0.0.1:3306/test",
            "mongodb://root:pw@h1:27017,h2:27018/app?authSource=admin",
            "redis://:pw@cache:6379/0",
            "rediss://cache:6380",
            "sqlite://data/app.db",
            "sqlite::memory:",
            "postgres://app@[::1]:5432/app",
        ];
        for text in cases {
            let url = ConnectionUrl::parse(text).unwrap();
            assert_eq!(url.expose_url().expose_secret(), text, "{text}");
        }
    }

    #[test]
    fn defaults_and_errors() {
        let url = ConnectionUrl::parse("mysql://db/app").unwrap();
        assert_eq!(url.port(), Some(3306));
        assert!(ConnectionUrl::parse("ftp://x").is_err());
        assert!(
            ConnectionUrl::parse("postgres://u:secretpw@db:99999/app")
                .unwrap_err()
                .to_string()
                .contains("port")
        );
        assert!(
            !ConnectionUrl::parse("postgres://u:secretpw@db:99999/app")
                .unwrap_err()
                .to_string()
                .contains("secretpw")
        );
        assert!(ConnectionUrl::parse("postgres://u:pw@/app").is_err());
    }
}
