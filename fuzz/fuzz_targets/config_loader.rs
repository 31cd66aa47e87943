//! The configuration loader on arbitrary files: `.env.local`, `.secrets`,
//! and `config/default.{toml,yaml,json}`. It may refuse any input; it must
//! never panic, and never echo a value marked secret in its error.
#![no_main]

use std::sync::OnceLock;

use core_config::{AppEnv, Loader};
use libfuzzer_sys::fuzz_target;

const PLANTED: &str = "PLANTEDFUZZSECRET";

fn folder() -> &'static tempfile::TempDir {
    static FOLDER: OnceLock<tempfile::TempDir> = OnceLock::new();
    FOLDER.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir(dir.path().join("config")).expect("config/");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, content)) = data.split_first() else {
        return;
    };
    let dir = folder().path();
    let targets = [
        ".env.local",
        ".secrets",
        "config/default.toml",
        "config/default.yaml",
        "config/default.json",
    ];
    let target = targets[usize::from(selector) % targets.len()];
    for name in targets {
        let _ = std::fs::remove_file(dir.join(name));
    }
    std::fs::write(dir.join(target), content).expect("write the input");
    // A secret the input cannot contain (it is not in the file): if an error
    // ever shows it, a value leaked from the settings tree into a message.
    let loaded = Loader::new()
        .dir(dir)
        .env(AppEnv::Local)
        .environment([("APP__AUTH__JWT__SECRET", PLANTED)])
        .load_untyped();
    if let Err(err) = loaded {
        assert!(!err.to_string().contains(PLANTED), "{err}");
    }
});
