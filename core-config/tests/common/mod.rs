//! Real files in a temporary folder, the way a service lays them out.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use core_config::{AesKey, AppEnv, Loader};
use secrecy::ExposeSecret;

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::create_dir(dir.path().join("config")).expect("config folder");
        Fixture { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `relative` atomically (temporary file, then rename), as a
    /// deployment tool would.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let target = self.dir.path().join(relative);
        let staging = self
            .dir
            .path()
            .join(format!("staging-{}", std::process::id()));
        std::fs::write(&staging, text).expect("write staging file");
        std::fs::rename(&staging, &target).expect("rename into place");
        target
    }

    /// A loader on this folder that sees only `vars` as the process environment.
    pub fn loader(&self, vars: &[(&str, &str)]) -> Loader {
        Loader::new()
            .dir(self.path())
            .environment(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    pub fn loader_for(&self, env: AppEnv) -> Loader {
        self.loader(&[]).env(env)
    }
}

pub fn key_text(key: &AesKey) -> String {
    key.to_base64().expose_secret().to_string()
}
