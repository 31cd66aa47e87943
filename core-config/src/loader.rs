//! Building the effective settings from every source, in order.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use config::{Config, Map, Source as _, Value, ValueKind};
use core_error::{Error, Result};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config_error::describe;
use crate::crypto::{AES_SECRET_VAR, AesKey, EncValue, is_enc};
use crate::source::{EnvVars, Origin, Tagged, find_config_file, read_dotenv};
use crate::validate::{ProductionRules, Rule, Violations};
use crate::{APP_ENV_VAR, AppEnv, ConfigTree, Echo};

/// The prefix of variables that set settings unless told otherwise.
pub const DEFAULT_PREFIX: &str = "APP";
/// The file holding secrets and, optionally, `APP_ENV` and `AES_SECRET`.
pub const SECRETS_FILE: &str = ".secrets";
/// The folder (under the loader's folder) holding `default.*` and `<env>.*`.
pub const CONFIG_FOLDER: &str = "config";

/// Loads the settings of type `T` with every default: files under the current
/// folder, variables prefixed `APP`, the environment named by `APP_ENV`.
///
/// See [`Loader`] for the sources and their order.
pub fn load<T: DeserializeOwned>() -> Result<T> {
    Loader::new().load::<T>().map(Loaded::into_settings)
}

/// Loads layered settings: defaults, files, variables files and the process
/// environment, then decrypts `ENC(...)` values and validates the result.
///
/// Lowest to highest precedence:
///
/// | step | source |
/// |---|---|
/// | 1 | [`defaults`](Loader::defaults) |
/// | 2 | `config/default.{toml,yaml,yml,json,ini}` |
/// | 3 | `config/<env>.{toml,yaml,yml,json,ini}` |
/// | 4 | `.env.<env>` |
/// | 5 | `.secrets` |
/// | 6 | the process environment |
///
/// Steps 4 to 6 hold variables named `<PREFIX>__SECTION__KEY`.
///
/// The environment is, in order: the one given to [`env`](Loader::env),
/// `APP_ENV` in the process environment, `APP_ENV` in `.secrets`, the
/// [`fallback_env`](Loader::fallback_env). With none of those, or with an
/// unknown name, loading fails.
///
/// ```
/// use core_config::{AppEnv, Loader};
/// use secrecy::{ExposeSecret, SecretString};
///
/// #[derive(serde::Deserialize)]
/// struct Settings {
///     database: Database,
/// }
/// #[derive(serde::Deserialize)]
/// struct Database {
///     host: String,
///     port: u16,
///     password: SecretString,
/// }
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::create_dir(dir.path().join("config")).unwrap();
/// std::fs::write(
///     dir.path().join("config/default.toml"),
///     "[database]\nhost = \"localhost\"\nport = 5432\n",
/// )
/// .unwrap();
/// std::fs::write(dir.path().join(".secrets"), "APP_ENV=dev\nAPP__DATABASE__PASSWORD=pw\n").unwrap();
///
/// let loaded = Loader::new()
///     .dir(dir.path())
///     .environment([("APP__DATABASE__PORT", "6543")])
///     .load::<Settings>()
///     .unwrap();
/// assert_eq!(loaded.env(), AppEnv::Dev);
/// let settings = loaded.settings();
/// assert_eq!(settings.database.host, "localhost");
/// assert_eq!(settings.database.port, 6543);
/// assert_eq!(settings.database.password.expose_secret(), "pw");
/// ```
#[derive(Clone)]
pub struct Loader {
    dir: PathBuf,
    prefix: String,
    env: Option<AppEnv>,
    fallback_env: Option<AppEnv>,
    environment: Option<Vec<(String, String)>>,
    defaults: Option<std::result::Result<Config, String>>,
    list_keys: Vec<String>,
    rules: Vec<Arc<dyn Rule>>,
    production: ProductionRules,
    #[cfg(feature = "reload")]
    pub(crate) debounce: std::time::Duration,
}

/// What [`Loader::resolve`] produces before the type and rules are applied.
pub(crate) struct Resolved {
    pub(crate) env: AppEnv,
    pub(crate) tree: ConfigTree,
    pub(crate) violations: Violations,
}

impl Default for Loader {
    fn default() -> Loader {
        Loader::new()
    }
}

impl Loader {
    /// A loader reading the current folder, prefix `APP`, production rules on.
    pub fn new() -> Loader {
        Loader {
            dir: PathBuf::from("."),
            prefix: DEFAULT_PREFIX.to_string(),
            env: None,
            fallback_env: None,
            environment: None,
            defaults: None,
            list_keys: Vec::new(),
            rules: Vec::new(),
            production: ProductionRules::default(),
            #[cfg(feature = "reload")]
            debounce: std::time::Duration::from_millis(100),
        }
    }

    /// The folder holding `config/`, `.env.<env>` and `.secrets`.
    #[must_use]
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Loader {
        self.dir = dir.as_ref().to_path_buf();
        self
    }

    /// The prefix of variables that set settings (`APP` gives `APP__A__B`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Loader {
        self.prefix = prefix.into();
        self
    }

    /// Uses `env` whatever `APP_ENV` says (the CLI's `--env`).
    #[must_use]
    pub fn env(mut self, env: AppEnv) -> Loader {
        self.env = Some(env);
        self
    }

    /// The environment to use when `APP_ENV` is set nowhere. Without one,
    /// an unset `APP_ENV` is an error.
    #[must_use]
    pub fn fallback_env(mut self, env: AppEnv) -> Loader {
        self.fallback_env = Some(env);
        self
    }

    /// Reads these variables instead of the process environment, for tests
    /// and tools. By default the process environment is read at each load.
    #[must_use]
    pub fn environment<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Loader
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.environment = Some(
            vars.into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
        );
        self
    }

    /// The built-in defaults, the lowest layer: any serializable value whose
    /// shape matches the settings (a struct, or a `serde_json::json!` map).
    ///
    /// ```
    /// use core_config::{AppEnv, Loader};
    ///
    /// #[derive(serde::Serialize)]
    /// struct Defaults { server: Server }
    /// #[derive(serde::Serialize)]
    /// struct Server { port: u16 }
    ///
    /// let loaded = Loader::new()
    ///     .dir(tempfile::tempdir().unwrap().path())
    ///     .env(AppEnv::Test)
    ///     .environment::<&str, &str>([])
    ///     .defaults(&Defaults { server: Server { port: 8080 } })
    ///     .load_untyped()
    ///     .unwrap();
    /// assert_eq!(loaded.tree().get_i64("server.port"), Some(8080));
    /// ```
    #[must_use]
    pub fn defaults<S: Serialize>(mut self, defaults: &S) -> Loader {
        self.defaults = Some(Config::try_from(defaults).map_err(|err| describe(&err).1));
        self
    }

    /// Declares `path` a list: a variable setting it is split on commas.
    #[must_use]
    pub fn list_key(mut self, path: impl Into<String>) -> Loader {
        self.list_keys.push(path.into());
        self
    }

    /// Adds a validation rule run at every load and reload.
    #[must_use]
    pub fn rule(mut self, rule: impl Rule + 'static) -> Loader {
        self.rules.push(Arc::new(rule));
        self
    }

    /// Replaces the production rules (for example to name another JWT path,
    /// or `jwt_secret: None` for a service without JWTs).
    #[must_use]
    pub fn production_rules(mut self, rules: ProductionRules) -> Loader {
        self.production = rules;
        self
    }

    /// The folder this loader reads.
    pub fn folder(&self) -> &Path {
        &self.dir
    }

    /// Loads, decrypts, validates and deserializes the settings.
    ///
    /// Every problem found (missing or out-of-range settings, production
    /// rules, values that do not decrypt, the type's own complaint) is
    /// reported at once in one [`ErrorKind::InvalidInput`](core_error::ErrorKind)
    /// error whose source is the [`Violations`].
    pub fn load<T: DeserializeOwned>(&self) -> Result<Loaded<T>> {
        let Resolved {
            env,
            tree,
            mut violations,
        } = self.resolve()?;
        self.check(&tree, env, &mut violations);
        let root = Value::new(None, ValueKind::Table(tree.root().clone()));
        let settings = match root.try_deserialize::<T>() {
            Ok(settings) => Some(settings),
            Err(err) => {
                let (key, message) = describe(&err);
                violations.push(key.unwrap_or_else(|| "(settings)".to_string()), message);
                None
            }
        };
        match settings {
            Some(settings) if violations.is_empty() => Ok(Loaded {
                settings,
                env,
                tree,
                prefix: self.prefix.clone(),
            }),
            _ => Err(invalid(env, &tree, violations)),
        }
    }

    /// Loads, decrypts and validates without a settings type: what the CLI's
    /// `validate` and `print` do.
    pub fn load_untyped(&self) -> Result<Loaded<()>> {
        let Resolved {
            env,
            tree,
            mut violations,
        } = self.resolve()?;
        self.check(&tree, env, &mut violations);
        if !violations.is_empty() {
            return Err(invalid(env, &tree, violations));
        }
        Ok(Loaded {
            settings: (),
            env,
            tree,
            prefix: self.prefix.clone(),
        })
    }

    fn check(&self, tree: &ConfigTree, env: AppEnv, violations: &mut Violations) {
        self.production.check(tree, env, violations);
        for rule in &self.rules {
            rule.check(tree, env, violations);
        }
    }

    /// The variables this loader reads as the process environment.
    fn snapshot(&self) -> Vec<(String, String)> {
        match &self.environment {
            Some(vars) => vars.clone(),
            None => std::env::vars_os()
                .filter_map(|(key, value)| {
                    Some((key.into_string().ok()?, value.into_string().ok()?))
                })
                .collect(),
        }
    }

    pub(crate) fn select_env(
        &self,
        process: &[(String, String)],
        secrets: &[(String, String)],
    ) -> Result<AppEnv> {
        if let Some(env) = self.env {
            return Ok(env);
        }
        for (vars, place) in [
            (process, "the process environment"),
            (secrets, SECRETS_FILE),
        ] {
            if let Some(value) = lookup(vars, APP_ENV_VAR).filter(|v| !v.trim().is_empty()) {
                return value
                    .parse::<AppEnv>()
                    .map_err(|err| err.with_context("from", place));
            }
        }
        self.fallback_env.ok_or_else(|| {
            Error::invalid_input(format!(
                "{APP_ENV_VAR} is not set in the process environment nor in {SECRETS_FILE}; \
                 set it to one of local, dev, test, staging, prod"
            ))
            .with_key(APP_ENV_VAR)
            .with_operation("config.select_env")
        })
    }

    /// Every path a change to which should trigger a reload.
    #[cfg(feature = "reload")]
    pub(crate) fn watched_names(&self, env: AppEnv) -> Vec<String> {
        let mut names = vec![format!(".env.{env}"), SECRETS_FILE.to_string()];
        for stem in ["default", env.as_str()] {
            for (ext, _) in crate::source::FORMATS {
                names.push(format!("{stem}.{ext}"));
            }
        }
        names
    }

    pub(crate) fn resolve(&self) -> Result<Resolved> {
        let process = self.snapshot();
        let secrets = read_dotenv(&self.dir.join(SECRETS_FILE))?;
        let env = self.select_env(&process, &secrets)?;
        let env_file = format!(".env.{env}");
        let env_vars = read_dotenv(&self.dir.join(&env_file))?;

        let mut builder = Config::builder();
        if let Some(defaults) = &self.defaults {
            let defaults = defaults.clone().map_err(|message| {
                Error::invalid_input(format!("the built-in defaults are not a table: {message}"))
                    .with_operation("config.load")
            })?;
            builder = builder.add_source(Tagged {
                inner: defaults,
                origin: Origin::Default,
            });
        }
        let folder = self.dir.join(CONFIG_FOLDER);
        let mut files = Vec::new();
        for stem in ["default", env.as_str()] {
            if let Some((path, format)) = find_config_file(&folder, stem)? {
                let relative = path.strip_prefix(&self.dir).unwrap_or(&path).to_path_buf();
                files.push(relative.clone());
                builder = builder.add_source(Tagged {
                    inner: config::File::from(path).format(format).required(true),
                    origin: Origin::File(relative),
                });
            }
        }
        for (vars, file) in [
            (env_vars, Some(PathBuf::from(&env_file))),
            (secrets.clone(), Some(PathBuf::from(SECRETS_FILE))),
            (process.clone(), None),
        ] {
            builder = builder.add_source(EnvVars {
                vars,
                prefix: self.prefix.clone(),
                file,
                list_keys: self.list_keys.clone(),
            });
        }
        let merged = builder
            .build()
            .and_then(|config| config.collect())
            .map_err(|err| {
                let (key, message) = describe(&err);
                let error = Error::invalid_input(message).with_operation("config.load");
                // `config` names a file by a path relative to the working
                // folder; ours is relative to the loader's folder.
                let key = key.map(|key| {
                    files
                        .iter()
                        .find(|file| Path::new(&key).ends_with(file))
                        .map(|file| file.display().to_string())
                        .unwrap_or(key)
                });
                match key {
                    Some(key) => error.with_key(key),
                    None => error,
                }
            })?;

        let mut decrypting = Decrypting {
            key: KeyState::Unread {
                process: &process,
                secrets: &secrets,
            },
            encrypted: BTreeSet::new(),
            violations: Violations::default(),
        };
        let root = decrypting.table(String::new(), merged)?;
        Ok(Resolved {
            env,
            tree: ConfigTree::new(root, decrypting.encrypted),
            violations: decrypting.violations,
        })
    }
}

fn invalid(env: AppEnv, tree: &ConfigTree, mut violations: Violations) -> Error {
    violations.map_messages(|message| tree.scrub(message));
    Error::invalid_input(format!(
        "invalid configuration for {env} ({} problem{}):\n{violations}",
        violations.len(),
        if violations.len() == 1 { "" } else { "s" }
    ))
    .with_operation("config.load")
    .with_source(violations)
}

fn lookup<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

enum KeyState<'a> {
    Unread {
        process: &'a [(String, String)],
        secrets: &'a [(String, String)],
    },
    Missing,
    Ready(AesKey),
}

/// Walks the merged tree, replacing each `ENC(...)` text by its plaintext.
struct Decrypting<'a> {
    key: KeyState<'a>,
    encrypted: BTreeSet<String>,
    violations: Violations,
}

impl Decrypting<'_> {
    fn table(&mut self, prefix: String, table: Map<String, Value>) -> Result<Map<String, Value>> {
        let mut out = Map::new();
        for (name, value) in table {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            out.insert(name, self.value(path, value)?);
        }
        Ok(out)
    }

    fn value(&mut self, path: String, value: Value) -> Result<Value> {
        let origin = value.origin().map(str::to_string);
        let kind = match value.kind {
            ValueKind::Table(table) => ValueKind::Table(self.table(path, table)?),
            ValueKind::Array(items) => ValueKind::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| self.value(format!("{path}[{index}]"), item))
                    .collect::<Result<_>>()?,
            ),
            ValueKind::String(text) if is_enc(&text) => self.open(path, text)?,
            other => other,
        };
        Ok(Value::new(origin.as_ref(), kind))
    }

    fn open(&mut self, path: String, text: String) -> Result<ValueKind> {
        let key = match self.key()? {
            Some(key) => key,
            None => {
                self.violations.push(
                    path,
                    format!("is ENC(...) but {AES_SECRET_VAR} is set neither in the process environment nor in {SECRETS_FILE}"),
                );
                return Ok(ValueKind::String(text));
            }
        };
        match EncValue::parse(&text).and_then(|value| value.decrypt(key)) {
            Ok(plain) => {
                self.encrypted.insert(path);
                // `config` holds text as `String`; the typed settings take it
                // back into a `SecretString`.
                Ok(ValueKind::String(plain.expose_secret().to_string()))
            }
            Err(err) => {
                self.violations.push(path, format!("cannot decrypt: {err}"));
                Ok(ValueKind::String(String::new()))
            }
        }
    }

    fn key(&mut self) -> Result<Option<&AesKey>> {
        if let KeyState::Unread { process, secrets } = self.key {
            let text = lookup(process, AES_SECRET_VAR)
                .filter(|v| !v.trim().is_empty())
                .or_else(|| lookup(secrets, AES_SECRET_VAR).filter(|v| !v.trim().is_empty()));
            self.key = match text {
                Some(text) => KeyState::Ready(AesKey::parse(text)?),
                None => KeyState::Missing,
            };
        }
        Ok(match &self.key {
            KeyState::Ready(key) => Some(key),
            _ => None,
        })
    }
}

impl fmt::Debug for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loader")
            .field("dir", &self.dir)
            .field("prefix", &self.prefix)
            .field("env", &self.env)
            .field("fallback_env", &self.fallback_env)
            .field(
                "environment",
                &self
                    .environment
                    .as_ref()
                    .map(|vars| format!("{} variables", vars.len())),
            )
            .field("rules", &self.rules.len())
            .field("production", &self.production)
            .finish_non_exhaustive()
    }
}

/// Settings as loaded, with the environment and the tree they came from.
pub struct Loaded<T> {
    settings: T,
    env: AppEnv,
    tree: ConfigTree,
    prefix: String,
}

impl<T> Loaded<T> {
    /// The typed settings.
    pub fn settings(&self) -> &T {
        &self.settings
    }

    /// Takes the typed settings.
    pub fn into_settings(self) -> T {
        self.settings
    }

    /// The environment the settings were loaded for.
    pub fn env(&self) -> AppEnv {
        self.env
    }

    /// The effective values and their origins.
    pub fn tree(&self) -> &ConfigTree {
        &self.tree
    }

    /// The redacted dump of the effective configuration with each value's
    /// source; secrets are shown as `***`.
    pub fn echo(&self) -> Echo {
        Echo::new(&self.tree, self.env, &self.prefix)
    }
}

impl<T: fmt::Debug> fmt::Debug for Loaded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("settings", &self.settings)
            .field("env", &self.env)
            .field("tree", &self.tree)
            .finish()
    }
}
