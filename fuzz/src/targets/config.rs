//! `config.toml` and its `TESSERA_*` environment overrides.

use std::path::Path;

/// Relative paths in the file resolve against a folder that does not exist,
/// so a run reads no file of this machine's by accident.
const CONFIG_PATH: &str = "/nonexistent/tessera-fuzz/config.toml";

/// The input up to its first NUL is the file; after it, one override a
/// line, `NAME=value` (a line without `=` sets `NAME` to nothing).
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (file, env) = text.split_once('\0').unwrap_or((&text, ""));
    let env = env.lines().map(|line| {
        let (name, value) = line.split_once('=').unwrap_or((line, ""));
        (name.to_owned(), value.to_owned())
    });
    let _ = tessera_server::config::parse(file, Path::new(CONFIG_PATH), env);
}
