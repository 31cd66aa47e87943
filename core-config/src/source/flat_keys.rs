//! Flat variables (`DB_HOST`, `JWT_SECRET`, `DEBUG`, ...) read onto the
//! SDK's sections: how a service moving from the seed framework's
//! `configs/.env.<env>` layout keeps its files as they are.
//!
//! Opt-in, through [`Loader::flat_keys`](crate::Loader::flat_keys). Flat
//! variables are read from the same places as `APP__…` ones (`.env.<env>`,
//! `.secrets`, the process environment, later places winning), and rank just
//! below every `APP__…` variable: an `APP__DATABASE__URL` anywhere overrides
//! what `DB_*` build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use config::{Map, Value, ValueKind};
use secrecy::{ExposeSecret, SecretString};

use crate::connection::{ConnectionUrl, Driver};
use crate::crypto::{EncValue, is_enc};
use crate::decrypting::KeyState;
use crate::source::Origin;
use crate::validate::Violations;

/// How the text of a flat variable becomes the value of its setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlatValue {
    /// Taken as it is (converted when the typed setting asks, like `APP__…`
    /// variables).
    Text,
    /// A list: a JSON-style array (`["https://a", "https://b"]`, as pydantic
    /// writes it) or comma-separated text (`https://a,https://b`).
    List,
    /// A whole number of minutes, set as seconds (`ACCESS_TOKEN_EXPIRE_MINUTES=30`
    /// sets `auth.tokens.access_ttl_secs = 1800`).
    MinutesAsSeconds,
}

/// The database types `DB_TYPE` accepts.
const DB_TYPES: &str = "mysql, mariadb, postgresql, sqlite";
/// The variables [`FlatKeys::database_url`] reads besides `DB_TYPE`.
const DB_PARTS: [&str; 7] = [
    "DB_HOST",
    "DB_PORT",
    "DB_USERNAME",
    "DB_PASSWORD",
    "DB_DATABASE",
    "DB_CHARSET",
    "DB_SSL_MODE",
];
/// The variables [`FlatKeys::redis_url`] reads besides `REDIS_HOST`.
const REDIS_PARTS: [&str; 5] = [
    "REDIS_PORT",
    "REDIS_USERNAME",
    "REDIS_PASSWORD",
    "REDIS_DB",
    "REDIS_SSL",
];
/// The charset a MySQL URL built from `DB_*` asks for unless `DB_CHARSET` says.
const MYSQL_CHARSET: &str = "utf8mb4";

/// Which flat variables set which settings: a named preset
/// ([`seed`](FlatKeys::seed)) and the service's own aliases.
///
/// ```
/// use core_config::{AppEnv, FlatKeys, FlatValue, Loader};
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(
///     dir.path().join(".env.dev"),
///     "DB_TYPE=mysql\nDB_HOST=db.internal\nDB_USERNAME=app\nDB_PASSWORD=pw\nDB_DATABASE=shop\n\
///      ACCESS_TOKEN_EXPIRE_MINUTES=30\nSHOP_WORKERS=4\n",
/// )
/// .unwrap();
///
/// let loaded = Loader::new()
///     .dir(dir.path())
///     .env(AppEnv::Dev)
///     .environment::<&str, &str>([])
///     .flat_keys(FlatKeys::seed().alias("SHOP_WORKERS", "shop.workers"))
///     .load_untyped()
///     .unwrap();
/// let tree = loaded.tree();
/// assert_eq!(
///     tree.get_str("database.url"),
///     Some("mysql://app:pw@db.internal:3306/shop?charset=utf8mb4")
/// );
/// assert_eq!(tree.get_i64("auth.tokens.access_ttl_secs"), Some(1800));
/// assert_eq!(tree.get_i64("shop.workers"), Some(4));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlatKeys {
    aliases: Vec<Alias>,
    database_url: Option<String>,
    redis_url: Option<String>,
    jwt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Alias {
    var: String,
    path: String,
    value: FlatValue,
}

impl FlatKeys {
    /// No flat variable read: add the service's own with
    /// [`alias`](FlatKeys::alias).
    pub fn new() -> FlatKeys {
        FlatKeys::default()
    }

    /// The seed framework's layout:
    ///
    /// | variables | setting |
    /// |---|---|
    /// | `DB_TYPE`, `DB_HOST`, `DB_PORT`, `DB_USERNAME`, `DB_PASSWORD`, `DB_DATABASE` (`DB_CHARSET`, `DB_SSL_MODE`) | `database.url` ([`database_url`](FlatKeys::database_url)) |
    /// | `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`, `REDIS_DB` (`REDIS_USERNAME`, `REDIS_SSL`) | `cache.url` ([`redis_url`](FlatKeys::redis_url)) |
    /// | `JWT_SECRET`, `JWT_ALGORITHM` | `auth.jwt` ([`jwt`](FlatKeys::jwt)) |
    /// | `ACCESS_TOKEN_EXPIRE_MINUTES` | `auth.tokens.access_ttl_secs` (× 60) |
    /// | `DEBUG` | `debug` |
    /// | `ECHO_CONFIG` | `config.echo` |
    /// | `BACKEND_CORS_ORIGINS` | `server.cors.allowed_origins` (a list) |
    ///
    /// `APP_ENV` and `AES_SECRET` keep their meaning; `ENC(...)` values are
    /// decrypted, `DB_PASSWORD` and `REDIS_PASSWORD` included.
    pub fn seed() -> FlatKeys {
        FlatKeys::new()
            .database_url("database.url")
            .redis_url("cache.url")
            .jwt("auth.jwt")
            .alias_as(
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                "auth.tokens.access_ttl_secs",
                FlatValue::MinutesAsSeconds,
            )
            .alias("DEBUG", "debug")
            .alias("ECHO_CONFIG", crate::ECHO_SETTING)
            .alias_as(
                "BACKEND_CORS_ORIGINS",
                "server.cors.allowed_origins",
                FlatValue::List,
            )
    }

    /// The variable `var` sets the setting `path`, as text.
    #[must_use]
    pub fn alias(self, var: impl Into<String>, path: impl Into<String>) -> FlatKeys {
        self.alias_as(var, path, FlatValue::Text)
    }

    /// The variable `var` sets the setting `path`, converted as `value` says.
    /// A later alias of the same variable replaces an earlier one.
    #[must_use]
    pub fn alias_as(
        mut self,
        var: impl Into<String>,
        path: impl Into<String>,
        value: FlatValue,
    ) -> FlatKeys {
        let var = var.into();
        self.aliases.retain(|alias| alias.var != var);
        self.aliases.push(Alias {
            var,
            path: path.into(),
            value,
        });
        self
    }

    /// `DB_TYPE` (mysql, mariadb, postgresql or sqlite) and `DB_HOST`,
    /// `DB_PORT`, `DB_USERNAME`, `DB_PASSWORD`, `DB_DATABASE` build the
    /// connection URL at `path` through [`ConnectionUrl`]. MySQL URLs ask for
    /// `DB_CHARSET` (default `utf8mb4`); for SQLite `DB_DATABASE` is the
    /// file. `DB_SSL_MODE` becomes the engine's TLS parameter (`sslmode=` for
    /// PostgreSQL, `ssl-mode=` for MySQL). Oracle, which the seed framework
    /// also allows, is refused.
    #[must_use]
    pub fn database_url(mut self, path: impl Into<String>) -> FlatKeys {
        self.database_url = Some(path.into());
        self
    }

    /// `REDIS_HOST`, `REDIS_PORT` (6379), `REDIS_USERNAME`, `REDIS_PASSWORD`
    /// and `REDIS_DB` (0) build the Redis URL at `path`; `REDIS_SSL=true`
    /// makes it `rediss://`.
    #[must_use]
    pub fn redis_url(mut self, path: impl Into<String>) -> FlatKeys {
        self.redis_url = Some(path.into());
        self
    }

    /// `JWT_SECRET` and `JWT_ALGORITHM` (HS256, HS384 or HS512; default
    /// HS256) fill core-auth's JWT section at `section`: the `secret`
    /// shorthand for HS256, else one key in `keys` with kid `default`.
    #[must_use]
    pub fn jwt(mut self, section: impl Into<String>) -> FlatKeys {
        self.jwt = Some(section.into());
        self
    }

    /// Whether the variable `name` is read by this mapping.
    pub(crate) fn reads(&self, name: &str) -> bool {
        self.aliases.iter().any(|alias| alias.var == name)
            || (self.database_url.is_some() && (name == "DB_TYPE" || DB_PARTS.contains(&name)))
            || (self.redis_url.is_some() && (name == "REDIS_HOST" || REDIS_PARTS.contains(&name)))
            || (self.jwt.is_some() && (name == "JWT_SECRET" || name == "JWT_ALGORITHM"))
    }

    /// The settings the flat variables of `layers` (lowest first; `None` is
    /// the process environment) set, tagged with the variable that set each.
    /// Problems are recorded in `violations`; paths whose value was
    /// decrypted on the way are added to `encrypted`.
    pub(crate) fn collect(
        &self,
        layers: &[VariableLayer<'_>],
        key: &KeyState,
        violations: &mut Violations,
        encrypted: &mut BTreeSet<String>,
    ) -> Map<String, Value> {
        let mut vars: BTreeMap<&str, Flat> = BTreeMap::new();
        for (pairs, file) in layers {
            for (name, value) in pairs.iter() {
                if !self.reads(name) {
                    continue;
                }
                let origin = match file {
                    Some(file) => Origin::VarFile {
                        file: file.clone(),
                        var: name.clone(),
                    },
                    None => Origin::Environment { var: name.clone() },
                };
                vars.insert(
                    name.as_str(),
                    Flat {
                        value: value.clone(),
                        origin,
                    },
                );
            }
        }
        let mut out = Building {
            vars: &vars,
            key,
            violations,
            encrypted,
            map: Map::new(),
        };
        for alias in &self.aliases {
            out.alias(alias);
        }
        if let Some(path) = &self.database_url {
            out.database_url(path);
        }
        if let Some(path) = &self.redis_url {
            out.redis_url(path);
        }
        if let Some(section) = &self.jwt {
            out.jwt(section);
        }
        out.map
    }
}

/// The variables of one place (`None` for the process environment, else
/// the file).
pub(crate) type VariableLayer<'a> = (&'a [(String, String)], Option<PathBuf>);

/// A flat variable's effective value and where it was set.
struct Flat {
    value: String,
    origin: Origin,
}

impl Flat {
    /// `DB_PORT in .env.prod`: how a message names the variable.
    fn named(&self) -> String {
        self.origin.to_string()
    }
}

struct Building<'a> {
    vars: &'a BTreeMap<&'a str, Flat>,
    key: &'a KeyState,
    violations: &'a mut Violations,
    encrypted: &'a mut BTreeSet<String>,
    map: Map<String, Value>,
}

impl<'a> Building<'a> {
    // `'a`, not `&self`'s lifetime: a variable stays readable while a
    // violation about it is recorded.
    fn get(&self, name: &str) -> Option<&'a Flat> {
        let vars: &'a BTreeMap<&'a str, Flat> = self.vars;
        vars.get(name).filter(|flat| !flat.value.trim().is_empty())
    }

    /// The variable, unless it comes from `.secrets`: that file serves every
    /// environment, so a password there for a server one environment does
    /// not use is no mistake.
    fn get_local(&self, name: &str) -> Option<&'a Flat> {
        self.get(name).filter(|flat| {
            !matches!(&flat.origin, Origin::VarFile { file, .. } if file.ends_with(crate::SECRETS_FILE))
        })
    }

    fn set(&mut self, path: &str, kind: ValueKind, origin: &Origin) {
        self.map
            .insert(path.to_string(), Value::new(Some(&origin.encode()), kind));
    }

    fn refuse(&mut self, flat: &Flat, message: impl std::fmt::Display) {
        let var = match &flat.origin {
            Origin::VarFile { var, .. } | Origin::Environment { var } => var.clone(),
            _ => String::new(),
        };
        self.violations
            .push(var, format!("({}) {message}", flat.named()));
    }

    fn alias(&mut self, alias: &Alias) {
        let Some(flat) = self.vars.get(alias.var.as_str()) else {
            return;
        };
        let kind = match alias.value {
            FlatValue::Text => ValueKind::String(flat.value.clone()),
            FlatValue::List => {
                let origin = flat.origin.encode();
                ValueKind::Array(
                    list_items(&flat.value)
                        .into_iter()
                        .map(|item| Value::new(Some(&origin), item))
                        .collect(),
                )
            }
            FlatValue::MinutesAsSeconds => match flat.value.trim().parse::<u64>() {
                Ok(minutes) if minutes <= u64::MAX / 60 => ValueKind::U64(minutes * 60),
                _ => {
                    self.refuse(flat, "must be a whole number of minutes");
                    return;
                }
            },
        };
        let origin = flat.origin.clone();
        self.set(&alias.path, kind, &origin);
    }

    /// The plaintext of a password variable, opening `ENC(...)`.
    fn password(&mut self, flat: &Flat) -> Option<(SecretString, bool)> {
        if !is_enc(&flat.value) {
            return Some((SecretString::from(flat.value.clone()), false));
        }
        let opened = match self.key {
            KeyState::Ready(key) => EncValue::parse(&flat.value)
                .and_then(|value| value.decrypt(key))
                .map_err(|err| err.to_string()),
            KeyState::Missing => Err(format!(
                "is ENC(...) but {} is set neither in the process environment nor in .secrets",
                crate::AES_SECRET_VAR
            )),
            KeyState::Malformed => Err(format!(
                "is ENC(...) but {} is not a valid key",
                crate::AES_SECRET_VAR
            )),
        };
        match opened {
            Ok(plain) => Some((plain, true)),
            Err(message) => {
                let message = if message.starts_with("is ENC") {
                    message
                } else {
                    format!("cannot decrypt: {message}")
                };
                self.refuse(flat, message);
                None
            }
        }
    }

    fn port(&mut self, name: &str) -> Result<Option<u16>, ()> {
        let Some(flat) = self.get(name) else {
            return Ok(None);
        };
        match flat.value.trim().parse::<u16>() {
            Ok(port) if port > 0 => Ok(Some(port)),
            _ => {
                self.refuse(flat, "must be a port number between 1 and 65535");
                Err(())
            }
        }
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(|flat| flat.value.trim().to_string())
    }

    fn database_url(&mut self, path: &str) {
        let Some(db_type) = self.get("DB_TYPE") else {
            if let Some(part) = DB_PARTS.iter().find_map(|name| self.get_local(name)) {
                self.refuse(
                    part,
                    format!("is set but DB_TYPE is not; set DB_TYPE to one of {DB_TYPES}"),
                );
            }
            return;
        };
        let origin = db_type.origin.clone();
        let driver = match db_type.value.trim().to_ascii_lowercase().as_str() {
            "mysql" | "mariadb" => Driver::Mysql,
            "postgresql" | "postgres" | "pgsql" => Driver::Postgres,
            "sqlite" | "sqlite3" => Driver::Sqlite,
            "oracle" => {
                self.refuse(
                    db_type,
                    format!("Oracle is not supported by the SDK; use one of {DB_TYPES}"),
                );
                return;
            }
            other => {
                let shown: String = other.chars().take(32).collect();
                self.refuse(
                    db_type,
                    format!("unknown database type {shown:?}; use one of {DB_TYPES}"),
                );
                return;
            }
        };
        let Some(database) = self.text("DB_DATABASE") else {
            self.refuse(
                db_type,
                "needs DB_DATABASE (the database name, or the SQLite file)",
            );
            return;
        };
        if driver == Driver::Sqlite {
            let url = ConnectionUrl::sqlite(database);
            self.set(
                path,
                ValueKind::String(url.expose_url().expose_secret().to_string()),
                &origin,
            );
            return;
        }
        let Some(host) = self.text("DB_HOST") else {
            self.refuse(db_type, "needs DB_HOST");
            return;
        };
        let Ok(port) = self.port("DB_PORT") else {
            return;
        };
        let mut url = ConnectionUrl::new(driver).with_host(host);
        url = url.with_port(port.or(driver.default_port()).unwrap_or_default());
        if let Some(user) = self.text("DB_USERNAME") {
            url = url.with_user(user);
        }
        let mut was_encrypted = false;
        if let Some(flat) = self
            .vars
            .get("DB_PASSWORD")
            .filter(|flat| !flat.value.is_empty())
        {
            let Some((password, encrypted)) = self.password(flat) else {
                return;
            };
            was_encrypted = encrypted;
            url = url.with_password(password);
        }
        url = url.with_database(database);
        if driver == Driver::Mysql {
            let charset = self
                .text("DB_CHARSET")
                .unwrap_or_else(|| MYSQL_CHARSET.to_string());
            url = url.with_param("charset", charset);
        }
        if let Some(mode) = self.text("DB_SSL_MODE") {
            let name = if driver == Driver::Mysql {
                "ssl-mode"
            } else {
                "sslmode"
            };
            url = url.with_param(name, mode);
        }
        if was_encrypted {
            self.encrypted.insert(path.to_string());
        }
        self.set(
            path,
            ValueKind::String(url.expose_url().expose_secret().to_string()),
            &origin,
        );
    }

    fn redis_url(&mut self, path: &str) {
        let Some(host) = self.get("REDIS_HOST") else {
            if let Some(part) = REDIS_PARTS.iter().find_map(|name| self.get_local(name)) {
                self.refuse(part, "is set but REDIS_HOST is not; set REDIS_HOST too");
            }
            return;
        };
        let origin = host.origin.clone();
        let mut url = ConnectionUrl::new(Driver::Redis).with_host(host.value.trim());
        let Ok(port) = self.port("REDIS_PORT") else {
            return;
        };
        url = url.with_port(port.unwrap_or(6379));
        if let Some(user) = self.text("REDIS_USERNAME") {
            url = url.with_user(user);
        }
        let mut was_encrypted = false;
        if let Some(flat) = self
            .vars
            .get("REDIS_PASSWORD")
            .filter(|flat| !flat.value.is_empty())
        {
            let Some((password, encrypted)) = self.password(flat) else {
                return;
            };
            was_encrypted = encrypted;
            url = url.with_password(password);
        }
        if let Some(flat) = self.get("REDIS_DB") {
            match flat.value.trim().parse::<u32>() {
                Ok(db) => url = url.with_database(db.to_string()),
                Err(_) => {
                    self.refuse(flat, "must be a database number such as 0");
                    return;
                }
            }
        }
        if was_encrypted {
            self.encrypted.insert(path.to_string());
        }
        let mut text = url.expose_url().expose_secret().to_string();
        if let Some(flat) = self.get("REDIS_SSL") {
            match flat.value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => text = text.replacen("redis://", "rediss://", 1),
                "false" | "0" | "no" | "off" => {}
                _ => {
                    self.refuse(flat, "must be true or false");
                    return;
                }
            }
        }
        self.set(path, ValueKind::String(text), &origin);
    }

    fn jwt(&mut self, section: &str) {
        let algorithm = self
            .get("JWT_ALGORITHM")
            .map(|flat| (flat.value.trim().to_ascii_uppercase(), flat));
        let Some(secret) = self.vars.get("JWT_SECRET") else {
            if let Some((_, flat)) = algorithm {
                self.refuse(flat, "is set but JWT_SECRET is not; set JWT_SECRET too");
            }
            return;
        };
        let origin = secret.origin.clone();
        let secret = secret.value.clone();
        match algorithm {
            None => self.set(
                &format!("{section}.secret"),
                ValueKind::String(secret),
                &origin,
            ),
            Some((name, _)) if name == "HS256" => {
                self.set(
                    &format!("{section}.secret"),
                    ValueKind::String(secret),
                    &origin,
                );
            }
            Some((name, flat)) if name == "HS384" || name == "HS512" => {
                let tag = flat.origin.encode();
                let secret_tag = origin.encode();
                let mut key = Map::new();
                key.insert("kid".into(), Value::new(Some(&tag), "default"));
                key.insert("algorithm".into(), Value::new(Some(&tag), name));
                key.insert("secret".into(), Value::new(Some(&secret_tag), secret));
                self.set(
                    &format!("{section}.keys"),
                    ValueKind::Array(vec![Value::new(Some(&tag), ValueKind::Table(key))]),
                    &flat.origin,
                );
                self.set(
                    &format!("{section}.signing_kid"),
                    ValueKind::String("default".into()),
                    &flat.origin,
                );
            }
            Some((name, flat)) => {
                let shown: String = name.chars().take(16).collect();
                self.refuse(
                    flat,
                    format!(
                        "{shown:?} cannot sign with JWT_SECRET; use HS256, HS384 or HS512, \
                         or list PEM keys under auth.jwt.keys"
                    ),
                );
            }
        }
    }
}

/// The items of a list written as `["a", "b"]` or `a,b`.
fn list_items(text: &str) -> Vec<String> {
    let text = text.trim();
    let inner = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(text);
    inner
        .split(',')
        .map(|item| item.trim().trim_matches(['"', '\'']).trim().to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::list_items;

    #[test]
    fn lists_in_either_shape() {
        assert_eq!(
            list_items(r#"["https://a", 'https://b']"#),
            ["https://a", "https://b"]
        );
        assert_eq!(
            list_items("https://a, https://b,"),
            ["https://a", "https://b"]
        );
        assert!(list_items("[]").is_empty());
    }
}
