//! `core-config`: keys, encrypted values, rotation, validation and the
//! redacted effective configuration, from the command line.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use core_config::{
    AES_SECRET_VAR, AesKey, AppEnv, Error, Loader, Result, SECRETS_FILE, Violations, decrypt,
    encrypt, rotate_file,
};
use secrecy::ExposeSecret;

/// Manage the configuration of a core-sdk service.
#[derive(Debug, Parser)]
#[command(name = "core-config", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a new AES key and a JWT secret (`auth.jwt.secret`), as lines for `.secrets`.
    Keygen {
        /// Prefix of the settings variables (the JWT secret's line).
        #[arg(long, default_value = core_config::DEFAULT_PREFIX)]
        prefix: String,
    },
    /// Encrypt a value into ENC(...) with the key from AES_SECRET or --key-file.
    Encrypt {
        /// The plaintext; `-` reads it from standard input (keeps it out of
        /// the shell history).
        value: String,
        /// A file holding the key (base64 or hex, or an AES_SECRET=... line).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Decrypt an ENC(...) value with the key from AES_SECRET or --key-file.
    Decrypt {
        /// The ENC(...) value; `-` reads it from standard input.
        value: String,
        /// A file holding the key (base64 or hex, or an AES_SECRET=... line).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Re-encrypt every ENC(...) value of a file to a new key, keeping a backup.
    ///
    /// An AES_SECRET= line in the file that holds the old key is set to the
    /// new one in the same write; otherwise the output says where to set it.
    Rotate {
        /// The file to rewrite (any format: toml, yaml, json, ini, .env, .secrets).
        #[arg(long)]
        file: PathBuf,
        /// A file holding the new key.
        #[arg(long)]
        new_key_file: PathBuf,
        /// A file holding the old key; default AES_SECRET.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Load and validate the configuration; exit status 1 lists every violation.
    Validate {
        /// The environment to validate (local, dev, test, staging, prod).
        #[arg(long)]
        env: String,
        /// The folder holding config/, .env.<env> and .secrets.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Prefix of the settings variables.
        #[arg(long, default_value = core_config::DEFAULT_PREFIX)]
        prefix: String,
        /// Also read flat variables: `seed` maps the seed framework's
        /// DB_*, REDIS_*, JWT_*, DEBUG, ... onto the SDK's sections.
        #[arg(long, value_parser = ["seed"])]
        flat_keys: Option<String>,
    },
    /// Print the redacted effective configuration and where each value came
    /// from, then any violations (exit status 1 if there are some).
    Print {
        /// The environment to load (local, dev, test, staging, prod).
        #[arg(long)]
        env: String,
        /// The folder holding config/, .env.<env> and .secrets.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Prefix of the settings variables.
        #[arg(long, default_value = core_config::DEFAULT_PREFIX)]
        prefix: String,
        /// Also read flat variables: `seed` maps the seed framework's
        /// DB_*, REDIS_*, JWT_*, DEBUG, ... onto the SDK's sections.
        #[arg(long, value_parser = ["seed"])]
        flat_keys: Option<String>,
    },
    /// Read and write a service's settings in etcd.
    #[cfg(feature = "etcd")]
    Etcd {
        #[command(subcommand)]
        command: EtcdCommand,
    },
}

/// `core-config etcd …`.
#[cfg(feature = "etcd")]
#[derive(Debug, Subcommand)]
enum EtcdCommand {
    /// Validate a folder's settings for an environment, then make the prefix
    /// hold the values of its config files (one transaction; ENC(...) stays
    /// encrypted). Prints the keys added, removed and changed.
    Push {
        #[command(flatten)]
        target: EtcdTarget,
        /// The folder holding config/, .env.<env> and .secrets.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Print the keys of the prefix with their values redacted.
    Get {
        #[command(flatten)]
        target: EtcdTarget,
    },
    /// Show which keys `push` would add (+), remove (-) or change (~);
    /// exit status 1 when there are some.
    Diff {
        #[command(flatten)]
        target: EtcdTarget,
        /// The folder holding config/.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

/// Where in etcd, and how to get in.
#[cfg(feature = "etcd")]
#[derive(Debug, clap::Args)]
struct EtcdTarget {
    /// The environment (local, dev, test, staging, prod).
    #[arg(long)]
    env: String,
    /// The service: keys under /config/<service>/<env>/.
    #[arg(long, required_unless_present = "prefix")]
    service: Option<String>,
    /// The key prefix instead of the one made from --service.
    #[arg(long)]
    prefix: Option<String>,
    /// An etcd endpoint; repeat for several.
    #[arg(long = "endpoint", default_value = "http://127.0.0.1:2379")]
    endpoints: Vec<String>,
    /// The etcd user; the password is read from ETCD_PASSWORD.
    #[arg(long)]
    user: Option<String>,
    /// The CA certificate of https:// endpoints (PEM).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// A client certificate (PEM), with --key-file.
    #[arg(long)]
    cert_file: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long)]
    key_file: Option<PathBuf>,
}

#[cfg(feature = "etcd")]
impl EtcdTarget {
    /// The store, the prefix and the environment.
    fn open(&self) -> Result<(core_config::EtcdStore, String, AppEnv)> {
        let env: AppEnv = self.env.parse()?;
        let mut settings = core_config::EtcdSettings::new(
            self.endpoints.clone(),
            self.service.clone().unwrap_or_default(),
        );
        settings.prefix = self.prefix.clone().unwrap_or_default();
        settings.user = self.user.clone();
        settings.password = std::env::var("ETCD_PASSWORD").ok().map(Into::into);
        settings.ca_file = self.ca_file.clone();
        settings.cert_file = self.cert_file.clone();
        settings.key_file = self.key_file.clone();
        let prefix = settings.key_prefix(env)?;
        Ok((core_config::EtcdStore::connect(&settings)?, prefix, env))
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("core-config: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Keygen { prefix } => {
            let key = AesKey::generate()?;
            let jwt = AesKey::generate()?;
            println!("{AES_SECRET_VAR}={}", key.to_base64().expose_secret());
            println!(
                "{}__AUTH__JWT__SECRET={}",
                prefix.to_ascii_uppercase(),
                jwt.to_base64().expose_secret()
            );
        }
        Command::Encrypt { value, key_file } => {
            let key = key_from(key_file.as_deref())?;
            let plaintext = argument_or_stdin(value)?;
            let sealed = encrypt(&key, plaintext.expose_secret())
                .map_err(|err| Error::internal(err.to_string()))?;
            println!("{sealed}");
        }
        Command::Decrypt { value, key_file } => {
            let key = key_from(key_file.as_deref())?;
            let text = argument_or_stdin(value)?;
            let plain = decrypt(&key, text.expose_secret())
                .map_err(|err| Error::invalid_input(err.to_string()).with_operation("decrypt"))?;
            println!("{}", plain.expose_secret());
        }
        Command::Rotate {
            file,
            new_key_file,
            key_file,
        } => {
            let old = key_from(key_file.as_deref())?;
            let new = read_key_file(&new_key_file)?;
            let rotation = rotate_file(&file, &old, &new)?;
            println!(
                "re-encrypted {} value(s) in {}; the previous version is in {}",
                rotation.values,
                file.display(),
                rotation.backup.display()
            );
            if rotation.key_updated {
                println!(
                    "{AES_SECRET_VAR} in {} now holds the new key",
                    file.display()
                );
            } else {
                println!(
                    "ACTION NEEDED: set {AES_SECRET_VAR} to the new key (the contents of {}) \
                     wherever the service reads it (its process environment, a secret manager, \
                     or the {AES_SECRET_VAR}= line of its {SECRETS_FILE}); until then the \
                     rotated values do not open",
                    new_key_file.display()
                );
            }
        }
        Command::Validate {
            env,
            dir,
            prefix,
            flat_keys,
        } => {
            let env: AppEnv = env.parse()?;
            return match with_flat_keys(Loader::new(), flat_keys.as_deref())
                .dir(&dir)
                .prefix(prefix)
                .env(env)
                .load_untyped()
            {
                Ok(_) => {
                    println!("ok: the {env} configuration in {} is valid", dir.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => match Violations::from_error(&err) {
                    Some(violations) => {
                        println!(
                            "invalid: the {env} configuration in {} has {} problem(s):",
                            dir.display(),
                            violations.len()
                        );
                        for violation in violations {
                            println!("  - {violation}");
                        }
                        Ok(ExitCode::FAILURE)
                    }
                    None => Err(err),
                },
            };
        }
        Command::Print {
            env,
            dir,
            prefix,
            flat_keys,
        } => {
            let env: AppEnv = env.parse()?;
            let (loaded, violations) = with_flat_keys(Loader::new(), flat_keys.as_deref())
                .dir(&dir)
                .prefix(prefix)
                .env(env)
                .inspect()?;
            print!("{}", loaded.echo());
            if !violations.is_empty() {
                println!(
                    "# invalid: {} problem(s) with the {env} configuration in {}:",
                    violations.len(),
                    dir.display()
                );
                for violation in &violations {
                    println!("#   - {violation}");
                }
                return Ok(ExitCode::FAILURE);
            }
        }
        #[cfg(feature = "etcd")]
        Command::Etcd { command } => return etcd(command),
    }
    Ok(ExitCode::SUCCESS)
}

fn with_flat_keys(loader: Loader, flat_keys: Option<&str>) -> Loader {
    match flat_keys {
        Some(_) => loader.flat_keys(core_config::FlatKeys::seed()),
        None => loader,
    }
}

#[cfg(feature = "etcd")]
fn etcd(command: EtcdCommand) -> Result<ExitCode> {
    match command {
        EtcdCommand::Push { target, dir } => {
            let (store, prefix, env) = target.open()?;
            let changes = store.push(&Loader::new().dir(&dir).env(env), &prefix)?;
            println!("{changes}");
            println!("pushed the {env} settings of {} to {prefix}", dir.display());
        }
        EtcdCommand::Get { target } => {
            let (store, prefix, _) = target.open()?;
            let listing = store.list(&prefix)?;
            for (key, shown) in listing.redacted() {
                println!("{prefix}{key} = {shown}");
            }
            println!(
                "# {} keys at revision {}",
                listing.kvs.len(),
                listing.revision
            );
        }
        EtcdCommand::Diff { target, dir } => {
            let (store, prefix, env) = target.open()?;
            let diff = store.diff(&Loader::new().dir(&dir).env(env), &prefix)?;
            println!("{diff}");
            if !diff.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn argument_or_stdin(value: String) -> Result<secrecy::SecretString> {
    if value != "-" {
        return Ok(value.into());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|err| Error::from(err).with_operation("read stdin"))?;
    let trimmed = text.trim_end_matches(['\n', '\r']).to_string();
    Ok(trimmed.into())
}

/// The key from `--key-file`, else `AES_SECRET` in the environment, else
/// `AES_SECRET` in `./.secrets`.
fn key_from(key_file: Option<&Path>) -> Result<AesKey> {
    if let Some(path) = key_file {
        return read_key_file(path);
    }
    if let Ok(text) = std::env::var(AES_SECRET_VAR)
        && !text.trim().is_empty()
    {
        return AesKey::parse(&text);
    }
    let secrets = Path::new(SECRETS_FILE);
    if secrets.is_file() {
        return read_key_file(secrets);
    }
    Err(Error::invalid_input(format!(
        "no key: set {AES_SECRET_VAR} or pass --key-file"
    )))
}

/// A key file holds the key alone, or a dotenv line `AES_SECRET=...`.
/// Errors name the file, not `AES_SECRET`: the file is what to fix.
fn read_key_file(path: &Path) -> Result<AesKey> {
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|err| Error::from(err).with_key(shown.clone()))?;
    let from_line = text.lines().find_map(|line| {
        line.trim()
            .strip_prefix(AES_SECRET_VAR)
            .and_then(|rest| rest.trim_start().strip_prefix('='))
    });
    let parsed = match from_line {
        Some(value) => AesKey::parse(value.trim().trim_matches(['"', '\''])),
        None if text.lines().filter(|line| !line.trim().is_empty()).count() == 1 => {
            AesKey::parse(&text)
        }
        None => {
            return Err(Error::invalid_input(format!(
                "{shown} holds neither a key alone nor an {AES_SECRET_VAR}= line"
            ))
            .with_key(shown));
        }
    };
    parsed.map_err(|err| {
        let reason = err
            .message()
            .split_once(", but ")
            .map_or("it does not parse", |(_, reason)| reason);
        Error::invalid_input(format!(
            "the key in {shown} must be 32 bytes written as base64 or hex, but {reason}"
        ))
        .with_key(shown.clone())
    })
}
