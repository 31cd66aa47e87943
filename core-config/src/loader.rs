//! Building the effective settings from every source, in order.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use config::{Config, Source as _, Value, ValueKind};
use core_error::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config_error::describe;
use crate::crypto::AES_SECRET_VAR;
use crate::decrypting::{Decrypting, KeyState};
use crate::source::etcd::{self, Remote};
use crate::source::{
    DotenvEntry, EnvVars, Origin, Prepared, Tagged, check_utf8, find_config_file, pairs,
    read_dotenv, setting_key,
};
use crate::validate::{ProductionRules, Rule, Violations};
use crate::{APP_ENV_VAR, AppEnv, ConfigTree, ECHO_SETTING, Echo};
use crate::{EtcdSettings, FlatKeys};

/// The prefix of variables that set settings unless told otherwise.
pub const DEFAULT_PREFIX: &str = "APP";
/// The file holding secrets and, optionally, `APP_ENV` and `AES_SECRET`.
pub const SECRETS_FILE: &str = ".secrets";
/// The folder (under the loader's folder) holding `default.*` and `<env>.*`.
pub const CONFIG_FOLDER: &str = "config";

/// Loads the settings of type `T` with every default: files under the current
/// folder, variables prefixed `APP`, the environment named by `APP_ENV`.
///
/// See [`Loader`] for the sources and their order. When the setting
/// `config.echo` is on, the redacted effective configuration is logged
/// through `tracing` (see [`Loaded::echo_if_enabled`]).
///
/// ```standalone_crate
/// use secrecy::{ExposeSecret, SecretString};
///
/// #[derive(serde::Deserialize)]
/// struct Settings {
///     server: Server,
///     database: Database,
///     #[serde(default)]
///     config: core_config::ConfigSection,
/// }
/// #[derive(serde::Deserialize)]
/// struct Server { port: u16 }
/// #[derive(serde::Deserialize)]
/// struct Database { password: SecretString }
///
/// // A service's folder: config/default.toml, and .secrets naming the environment.
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::create_dir(dir.path().join("config")).unwrap();
/// std::fs::write(dir.path().join("config/default.toml"), "[server]\nport = 8080\n").unwrap();
/// std::fs::write(dir.path().join(".secrets"), "APP_ENV=dev\nAPP__DATABASE__PASSWORD=abc$HOME\n").unwrap();
/// // `load` reads the current folder (this example runs in its own process).
/// std::env::set_current_dir(dir.path()).unwrap();
///
/// let settings: Settings = core_config::load()?;
/// assert_eq!(settings.server.port, 8080);
/// assert_eq!(settings.database.password.expose_secret(), "abc$HOME");
/// assert!(!settings.config.echo);
/// # Ok::<(), core_error::Error>(())
/// ```
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
    flat_keys: FlatKeys,
    etcd: Option<EtcdSettings>,
    read_etcd: bool,
    #[cfg(feature = "reload")]
    pub(crate) debounce: std::time::Duration,
}

/// What [`Loader::resolve`] produces before the type and rules are applied.
pub(crate) struct Resolved {
    pub(crate) env: AppEnv,
    pub(crate) tree: ConfigTree,
    pub(crate) violations: Violations,
    pub(crate) remote: Option<Remote>,
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
            flat_keys: FlatKeys::new(),
            etcd: None,
            read_etcd: true,
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
    /// or `jwt_key_paths: Vec::new()` for a service without JWTs).
    #[must_use]
    pub fn production_rules(mut self, rules: ProductionRules) -> Loader {
        self.production = rules;
        self
    }

    /// Also reads flat variables (`DB_HOST=…`, `JWT_SECRET=…`) from
    /// `.env.<env>`, `.secrets` and the process environment, as `flat_keys`
    /// maps them ([`FlatKeys::seed`] for the seed framework's layout). They
    /// rank just below the `APP__…` variables of `.env.<env>`, so any
    /// `APP__…` variable overrides them; a production violation of a value
    /// they set names the variable and its file.
    #[must_use]
    pub fn flat_keys(mut self, flat_keys: FlatKeys) -> Loader {
        self.flat_keys = flat_keys;
        self
    }

    /// Reads etcd as these settings say, whatever `config.etcd` holds.
    /// Without this, the `config.etcd` section (from the files, `.env.<env>`,
    /// `.secrets` or the process environment) says whether and where.
    #[must_use]
    pub fn etcd(mut self, settings: EtcdSettings) -> Loader {
        self.etcd = Some(settings);
        self
    }

    /// Never reads etcd, whatever `config.etcd` says: the local layers only
    /// (what `core-config etcd push` validates before it writes them there).
    #[must_use]
    pub fn without_etcd(mut self) -> Loader {
        self.read_etcd = false;
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
    ///
    /// When the setting `config.echo` is on, the redacted effective
    /// configuration is logged (see [`Loaded::echo_if_enabled`]).
    pub fn load<T: DeserializeOwned>(&self) -> Result<Loaded<T>> {
        let (loaded, mut violations) = self.checked()?;
        let root = Value::new(None, ValueKind::Table(loaded.tree.root().clone()));
        let settings = match root.try_deserialize::<T>() {
            Ok(settings) => Some(settings),
            Err(err) => {
                let (key, message) = describe(&err);
                violations.push(key.unwrap_or_else(|| "(settings)".to_string()), message);
                None
            }
        };
        match settings {
            Some(settings) if violations.is_empty() => {
                let loaded = Loaded {
                    settings,
                    env: loaded.env,
                    tree: loaded.tree,
                    prefix: loaded.prefix,
                    remote: loaded.remote,
                };
                loaded.echo_if_enabled();
                Ok(loaded)
            }
            _ => Err(invalid(loaded.env, &loaded.tree, violations)),
        }
    }

    /// Loads, decrypts and validates without a settings type: what the CLI's
    /// `validate` does.
    pub fn load_untyped(&self) -> Result<Loaded<()>> {
        let (loaded, violations) = self.checked()?;
        if !violations.is_empty() {
            return Err(invalid(loaded.env, &loaded.tree, violations));
        }
        Ok(loaded)
    }

    /// Loads, decrypts and validates like [`load_untyped`](Loader::load_untyped),
    /// but returns the violations beside the configuration instead of failing
    /// on them, so that an invalid configuration can still be shown (what the
    /// CLI's `print` does). Fails only when no configuration can be built at
    /// all: an unreadable file, an unknown environment.
    ///
    /// ```
    /// use core_config::{AppEnv, Loader};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let (loaded, violations) = Loader::new()
    ///     .dir(dir.path())
    ///     .env(AppEnv::Prod)
    ///     .environment([("APP__DEBUG", "true")])
    ///     .inspect()
    ///     .unwrap();
    /// assert_eq!(loaded.tree().get_bool("debug"), Some(true));
    /// assert!(violations.mentions("debug"));
    /// ```
    pub fn inspect(&self) -> Result<(Loaded<()>, Violations)> {
        let (loaded, mut violations) = self.checked()?;
        violations.map_messages(|message| loaded.tree.scrub(message));
        Ok((loaded, violations))
    }

    /// The configuration and every violation of it, messages not yet scrubbed.
    fn checked(&self) -> Result<(Loaded<()>, Violations)> {
        let Resolved {
            env,
            tree,
            mut violations,
            remote,
        } = self.resolve()?;
        self.check(&tree, env, &mut violations);
        violations.annotate(|path| self.set_by_other_name(&tree, path));
        let loaded = Loaded {
            settings: (),
            env,
            tree,
            prefix: self.prefix.clone(),
            remote,
        };
        Ok((loaded, violations))
    }

    /// `set by DEBUG in .env.prod` when the value at `path` came from a
    /// variable whose name is not the setting's own (a flat variable), or
    /// `set by etcd key …`: a violation must name what to edit.
    fn set_by_other_name(&self, tree: &ConfigTree, path: &str) -> Option<String> {
        let origin = tree.get(path)?.origin();
        let own = match &origin {
            Origin::VarFile { var, .. } | Origin::Environment { var } => {
                setting_key(&self.prefix, var).is_some()
            }
            Origin::Etcd { .. } => false,
            _ => true,
        };
        (!own).then(|| format!("set by {origin}"))
    }

    fn check(&self, tree: &ConfigTree, env: AppEnv, violations: &mut Violations) {
        self.production.check(tree, env, violations);
        for rule in &self.rules {
            rule.check(tree, env, violations);
        }
    }

    /// The variables this loader reads as the process environment.
    ///
    /// A variable the loader would read (`APP_ENV`, `AES_SECRET`, or one
    /// with its prefix) whose name or value is not UTF-8 is refused, naming
    /// it: dropped, the service would start on a default instead.
    fn snapshot(&self) -> Result<Vec<(String, String)>> {
        if let Some(vars) = &self.environment {
            return Ok(vars.clone());
        }
        let mut vars = Vec::new();
        for (key, value) in std::env::vars_os() {
            let name = key.to_string_lossy();
            let read = self.reads_var(&name);
            match (key.to_str(), value.into_string()) {
                (Some(key), Ok(value)) => vars.push((key.to_owned(), value)),
                _ if !read => {}
                (Some(key), Err(_)) => {
                    return Err(Error::invalid_input(format!(
                        "the variable {key} is not valid UTF-8; write its value in UTF-8"
                    ))
                    .with_key(key.to_owned())
                    .with_operation("config.load"));
                }
                (None, _) => {
                    return Err(Error::invalid_input(format!(
                        "the name of the variable {name} is not valid UTF-8"
                    ))
                    .with_key(name.into_owned())
                    .with_operation("config.load"));
                }
            }
        }
        Ok(vars)
    }

    /// Whether the loader reads the variable `name` from the process
    /// environment or `.secrets`.
    fn reads_var(&self, name: &str) -> bool {
        name == APP_ENV_VAR || name == AES_SECRET_VAR || self.sets_a_setting(name)
    }

    fn sets_a_setting(&self, name: &str) -> bool {
        setting_key(&self.prefix, name).is_some()
    }

    /// A violation for each line of `file` the loader does not read: a
    /// `DEBUG=true` in `.env.prod` must not look as if it were in force.
    fn unread_lines(
        &self,
        file: &str,
        entries: &[DotenvEntry],
        also_read: &[&str],
        known: &[String],
        violations: &mut Violations,
    ) {
        for entry in entries {
            if self.sets_a_setting(&entry.name)
                || self.flat_keys.reads(&entry.name)
                || also_read.contains(&entry.name.as_str())
            {
                continue;
            }
            let hint = match nearest_var(&entry.name, known) {
                Some(near) => format!("; did you mean {near}?"),
                None => String::new(),
            };
            violations.push(
                format!("{file}:{}", entry.line),
                format!(
                    "{} is not read: only {}__<SECTION>__<KEY> variables set settings{}",
                    entry.name, self.prefix, hint
                ),
            );
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
        if !self.dir.is_dir() {
            let shown = self.dir.display().to_string();
            return Err(Error::invalid_input(format!(
                "the configuration folder {shown} does not exist or is not a folder"
            ))
            .with_key(shown)
            .with_operation("config.load"));
        }
        let process = self.snapshot()?;
        let secret_entries = read_dotenv(&self.dir.join(SECRETS_FILE))?;
        let secrets = pairs(&secret_entries);
        let env = self.select_env(&process, &secrets)?;
        self.refuse_alias_files(env)?;
        let env_file = format!(".env.{env}");
        let env_entries = read_dotenv(&self.dir.join(&env_file))?;
        let env_vars = pairs(&env_entries);

        let key_text = [
            (&process, "the process environment"),
            (&secrets, SECRETS_FILE),
        ]
        .into_iter()
        .find_map(|(vars, place)| {
            lookup(vars, AES_SECRET_VAR)
                .filter(|text| !text.trim().is_empty())
                .map(|text| (text, place))
        });
        let mut violations = Violations::default();
        let key = KeyState::read(key_text, &mut violations);
        let key_places = format!("the process environment nor in {SECRETS_FILE}");

        let mut encrypted = BTreeSet::new();
        let flat = self.flat_keys.collect(
            &[
                (&env_vars, Some(PathBuf::from(&env_file))),
                (&secrets, Some(PathBuf::from(SECRETS_FILE))),
                (&process, None),
            ],
            &key,
            &mut violations,
            &mut encrypted,
        );
        let layers = Layers {
            env_file: &env_file,
            env_vars: &env_vars,
            secrets: &secrets,
            process: &process,
            flat,
        };
        let mut merged = self.merge(env, &layers, None)?;
        let remote = match self.etcd_settings(&merged, &key)? {
            Some(settings) => Some(etcd::read(&settings, env)?),
            None => None,
        };
        if let Some(remote) = &remote {
            let keys = remote.to_map(&self.list_keys, &mut violations);
            merged = self.merge(env, &layers, Some(keys))?;
        }

        let mut decrypting = Decrypting {
            key: &key,
            key_places: &key_places,
            encrypted,
            violations: &mut violations,
        };
        let root = decrypting.table("", merged);
        let encrypted = decrypting.encrypted;
        let tree = ConfigTree::new(root, encrypted);
        let known: Vec<String> = tree
            .leaves()
            .into_iter()
            .map(|(path, _)| ConfigTree::var_name(&self.prefix, &path))
            .collect();
        self.unread_lines(&env_file, &env_entries, &[], &known, &mut violations);
        self.unread_lines(
            SECRETS_FILE,
            &secret_entries,
            &[APP_ENV_VAR, AES_SECRET_VAR],
            &known,
            &mut violations,
        );
        Ok(Resolved {
            env,
            tree,
            violations,
            remote,
        })
    }

    /// Every layer merged, lowest first, with etcd's keys when given.
    fn merge(
        &self,
        env: AppEnv,
        layers: &Layers<'_>,
        etcd_keys: Option<config::Map<String, Value>>,
    ) -> Result<config::Map<String, Value>> {
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
                check_utf8(&path, &relative.display().to_string())?;
                files.push(relative.clone());
                builder = builder.add_source(Tagged {
                    inner: config::File::from(path).format(format).required(true),
                    origin: Origin::File(relative),
                });
            }
        }
        builder = builder.add_source(Prepared(layers.flat.clone()));
        let variables = |vars: &[(String, String)], file: Option<PathBuf>| EnvVars {
            vars: vars.to_vec(),
            prefix: self.prefix.clone(),
            file,
            list_keys: self.list_keys.clone(),
        };
        builder = builder.add_source(variables(
            layers.env_vars,
            Some(PathBuf::from(layers.env_file)),
        ));
        if let Some(keys) = etcd_keys {
            builder = builder.add_source(Prepared(keys));
        }
        builder = builder
            .add_source(variables(layers.secrets, Some(PathBuf::from(SECRETS_FILE))))
            .add_source(variables(layers.process, None));
        builder
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
            })
    }

    /// The settings of the config files alone (`config/default.*` then
    /// `config/<env>.*`), as etcd keys relative to a prefix
    /// (`database/url`) and values as written: `ENC(...)` stays encrypted,
    /// a list becomes a JSON array. What `core-config etcd push` writes.
    /// The environment must be given ([`env`](Loader::env)).
    #[cfg(feature = "etcd")]
    pub(crate) fn file_settings(&self) -> Result<std::collections::BTreeMap<String, String>> {
        let env = self.env.ok_or_else(|| {
            Error::invalid_input("say which environment's files to push (--env)")
                .with_operation("config.etcd.push")
        })?;
        let mut builder = Config::builder();
        let folder = self.dir.join(CONFIG_FOLDER);
        for stem in ["default", env.as_str()] {
            if let Some((path, format)) = find_config_file(&folder, stem)? {
                builder = builder.add_source(config::File::from(path).format(format));
            }
        }
        let merged = builder
            .build()
            .and_then(|config| config.collect())
            .map_err(|err| {
                Error::invalid_input(describe(&err).1).with_operation("config.etcd.push")
            })?;
        let mut out = std::collections::BTreeMap::new();
        for (name, value) in merged {
            flatten_for_etcd(name, value, &mut out);
        }
        Ok(out)
    }

    /// The etcd settings to read with: the loader's own, else the
    /// `config.etcd` section of the local layers (its password may be
    /// `ENC(...)`), if it names endpoints.
    fn etcd_settings(
        &self,
        merged: &config::Map<String, Value>,
        key: &KeyState,
    ) -> Result<Option<EtcdSettings>> {
        if !self.read_etcd {
            return Ok(None);
        }
        if let Some(settings) = &self.etcd {
            return Ok(settings.is_enabled().then(|| settings.clone()));
        }
        let section = match merged.get("config").map(|config| &config.kind) {
            Some(ValueKind::Table(table)) => table.get("etcd").cloned(),
            _ => None,
        };
        let Some(section) = section else {
            return Ok(None);
        };
        let mut ignored = Violations::default();
        let mut opening = Decrypting {
            key,
            key_places: "",
            encrypted: BTreeSet::new(),
            violations: &mut ignored,
        };
        let mut table = config::Map::new();
        table.insert("etcd".to_string(), section);
        let opened = opening.table("config", table).remove("etcd");
        let settings: EtcdSettings = match opened {
            Some(value) => value.try_deserialize().map_err(|err| {
                let (field, message) = describe(&err);
                Error::invalid_input(format!("config.etcd: {message}"))
                    .with_key(match field {
                        Some(field) => format!("config.etcd.{field}"),
                        None => "config.etcd".to_string(),
                    })
                    .with_operation("config.load")
            })?,
            None => return Ok(None),
        };
        Ok(settings.is_enabled().then_some(settings))
    }

    /// Refuses files named after an alias of `env` (`config/production.toml`,
    /// `.env.production`): they would otherwise be silently skipped, since
    /// only the canonical names are read.
    fn refuse_alias_files(&self, env: AppEnv) -> Result<()> {
        let folder = self.dir.join(CONFIG_FOLDER);
        for alias in env.aliases() {
            let dotenv = self.dir.join(format!(".env.{alias}"));
            let found = if dotenv.is_file() {
                Some((dotenv, format!(".env.{env}")))
            } else {
                find_config_file(&folder, alias)?.map(|(path, _)| {
                    let ext = path
                        .extension()
                        .map(|ext| ext.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    (path, format!("{CONFIG_FOLDER}/{env}.{ext}"))
                })
            };
            if let Some((path, canonical)) = found {
                let shown = path
                    .strip_prefix(&self.dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                return Err(Error::invalid_input(format!(
                    "{shown} is named after the alias {alias:?}, and only canonical names \
                     are read; rename it to {canonical}"
                ))
                .with_key(shown)
                .with_operation("config.load"));
            }
        }
        Ok(())
    }
}

#[cfg(feature = "etcd")]
fn flatten_for_etcd(
    key: String,
    value: Value,
    out: &mut std::collections::BTreeMap<String, String>,
) {
    match value.kind {
        ValueKind::Table(table) => {
            for (name, child) in table {
                flatten_for_etcd(format!("{key}/{name}"), child, out);
            }
        }
        ValueKind::Array(items) => {
            let items: Vec<serde_json::Value> = items
                .into_iter()
                .map(|item| match item.kind {
                    ValueKind::String(text) => serde_json::Value::String(text),
                    other => serde_json::Value::String(Value::new(None, other).to_string()),
                })
                .collect();
            out.insert(key, serde_json::Value::Array(items).to_string());
        }
        ValueKind::Nil => {}
        ValueKind::String(text) => {
            out.insert(key, text);
        }
        other => {
            out.insert(key, Value::new(None, other).to_string());
        }
    }
}

/// The variable layers of one load, and the flat variables' settings.
struct Layers<'a> {
    env_file: &'a str,
    env_vars: &'a [(String, String)],
    secrets: &'a [(String, String)],
    process: &'a [(String, String)],
    flat: config::Map<String, Value>,
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

/// The known variable sharing the most words with `name` (`JWT_SECRET` →
/// `APP__AUTH__JWT__SECRET`), if any shares one.
fn nearest_var<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    let words = |text: &str| -> Vec<String> {
        text.split('_')
            .filter(|word| !word.is_empty())
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let wanted = words(name);
    known
        .iter()
        .map(|candidate| {
            let have = words(candidate);
            let shared = wanted.iter().filter(|word| have.contains(word)).count();
            (shared, std::cmp::Reverse(have.len()), candidate)
        })
        .filter(|(shared, _, _)| *shared > 0)
        .max()
        .map(|(_, _, candidate)| candidate.as_str())
}

fn lookup<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
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
    /// What was read from etcd, to follow it from that revision.
    pub(crate) remote: Option<Remote>,
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

    /// Logs the [`echo`](Loaded::echo) through `tracing` (one `info` event
    /// per setting, target `core_config::echo`) when the setting
    /// [`config.echo`](crate::ECHO_SETTING) is on; returns whether it did.
    /// [`Loader::load`] and [`load`] call it after every successful load.
    pub fn echo_if_enabled(&self) -> bool {
        if self.tree.get_bool(ECHO_SETTING) != Some(true) {
            return false;
        }
        self.echo().log();
        true
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
