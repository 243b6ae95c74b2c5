//! Import and export of a vanilla server's operator files in a directory:
//! the way in for an existing server's ops, whitelist and bans, and the way
//! back out.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::service::{now, AccountError, Accounts};
use super::vanilla::{
    self, Op, VanillaError, BANNED_IPS_FILE, BANNED_PLAYERS_FILE, OPS_FILE, WHITELIST_FILE,
};
use crate::accounts::records::BanRecord;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Malformed(#[from] VanillaError),
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error(
        "{0} holds none of {OPS_FILE}, {WHITELIST_FILE}, {BANNED_PLAYERS_FILE}, {BANNED_IPS_FILE}"
    )]
    NothingToImport(String),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("the file task stopped: {0}")]
    Task(String),
}

/// How many entries each file held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub ops: usize,
    pub whitelisted: usize,
    pub banned_players: usize,
    pub banned_ips: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ops, {} whitelisted players, {} banned players, {} banned IPs",
            self.ops, self.whitelisted, self.banned_players, self.banned_ips
        )
    }
}

/// The files' entries, each file checked whole before anything is written.
struct Lists {
    ops: Vec<Op>,
    whitelist: Vec<(String, String)>,
    banned_players: Vec<(String, BanRecord)>,
    banned_ips: Vec<(String, BanRecord)>,
}

impl Accounts {
    /// Merges the vanilla files found in `dir` into the register: their ops
    /// (with their levels), whitelisted players and bans are added, or
    /// replace the register's entry for the same player or address; nothing
    /// else is removed, and whether the whitelist is enforced is unchanged.
    /// Any malformed file refuses the import before anything is written;
    /// the register failing midway can leave part of it applied, and
    /// importing again is harmless.
    pub async fn import_vanilla(&self, dir: &Path) -> Result<Counts, TransferError> {
        let texts = read_files(dir.to_owned()).await?;
        if texts.iter().all(Option::is_none) {
            return Err(TransferError::NothingToImport(dir.display().to_string()));
        }
        let [ops, whitelist, players, ips] = texts;
        let now = now();
        let lists = Lists {
            ops: parse(ops, vanilla::parse_ops)?,
            whitelist: parse(whitelist, vanilla::parse_whitelist)?,
            banned_players: parse(players, |t| vanilla::parse_banned_players(t, now))?,
            banned_ips: parse(ips, |t| vanilla::parse_banned_ips(t, now))?,
        };
        let counts = Counts {
            ops: lists.ops.len(),
            whitelisted: lists.whitelist.len(),
            banned_players: lists.banned_players.len(),
            banned_ips: lists.banned_ips.len(),
        };
        if !lists.ops.is_empty() {
            let imported = lists.ops;
            self.edit_ops(|ops| {
                ops.entries
                    .retain(|(uuid, _, _)| !imported.iter().any(|(id, _, _)| id == uuid));
                ops.entries.extend(imported);
            })
            .await?;
        }
        if !lists.whitelist.is_empty() {
            let imported = lists.whitelist;
            self.edit_whitelist(|list| {
                list.entries
                    .retain(|(uuid, _)| !imported.iter().any(|(id, _)| id == uuid));
                list.entries.extend(imported);
            })
            .await?;
        }
        for (uuid, ban) in lists.banned_players {
            self.ban(&uuid, ban).await?;
        }
        for (address, ban) in lists.banned_ips {
            self.ban_ip(&address, ban).await?;
        }
        Ok(counts)
    }

    /// Writes the four vanilla files into `dir` (created if need be), each
    /// replaced whole so a reader never sees half of one.
    pub async fn export_vanilla(&self, dir: &Path) -> Result<Counts, TransferError> {
        let ops = self.ops().await?.entries;
        let whitelist = self.whitelist().await?.entries;
        let banned_players = self.bans().await?;
        let banned_ips = self.ip_bans().await?;
        let counts = Counts {
            ops: ops.len(),
            whitelisted: whitelist.len(),
            banned_players: banned_players.len(),
            banned_ips: banned_ips.len(),
        };
        let files = [
            (OPS_FILE, vanilla::ops_json(&ops)),
            (WHITELIST_FILE, vanilla::whitelist_json(&whitelist)),
            (
                BANNED_PLAYERS_FILE,
                vanilla::banned_players_json(&banned_players),
            ),
            (BANNED_IPS_FILE, vanilla::banned_ips_json(&banned_ips)),
        ];
        write_files(dir.to_owned(), files).await?;
        Ok(counts)
    }
}

/// An absent file is an empty list.
fn parse<T>(
    text: Option<String>,
    parse: impl FnOnce(&str) -> Result<Vec<T>, VanillaError>,
) -> Result<Vec<T>, VanillaError> {
    text.map_or_else(|| Ok(Vec::new()), |text| parse(&text))
}

/// The four files' texts, in the order of [`write_files`]; `None` for a
/// file that does not exist.
async fn read_files(dir: PathBuf) -> Result<[Option<String>; 4], TransferError> {
    blocking(move || {
        let read = |name: &str| {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(file_error(&path, e)),
            }
        };
        Ok([
            read(OPS_FILE)?,
            read(WHITELIST_FILE)?,
            read(BANNED_PLAYERS_FILE)?,
            read(BANNED_IPS_FILE)?,
        ])
    })
    .await
}

async fn write_files(
    dir: PathBuf,
    files: [(&'static str, String); 4],
) -> Result<(), TransferError> {
    blocking(move || {
        std::fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
        for (name, text) in files {
            let path = dir.join(name);
            let partial = dir.join(format!(".{name}.partial"));
            std::fs::write(&partial, text + "\n").map_err(|e| file_error(&partial, e))?;
            std::fs::rename(&partial, &path).map_err(|e| file_error(&path, e))?;
        }
        Ok(())
    })
    .await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TransferError> + Send + 'static,
) -> Result<T, TransferError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TransferError::Task(e.to_string()))?
}

fn file_error(path: &Path, error: std::io::Error) -> TransferError {
    TransferError::File {
        path: path.display().to_string(),
        problem: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::accounts::MemoryRegisters;

    fn accounts() -> Accounts {
        Accounts::new(Arc::new(MemoryRegisters::default()))
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tessera-transfer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    const ALEX: &str = "ec561538-f3fd-461d-aff5-086b22154bce";

    #[tokio::test]
    async fn an_export_imports_into_an_empty_register() {
        let from = accounts();
        from.edit_ops(|o| o.entries.push((ALEX.into(), "Alex".into(), 3)))
            .await
            .unwrap();
        from.edit_whitelist(|w| w.entries.push((ALEX.into(), "Alex".into())))
            .await
            .unwrap();
        let ban = BanRecord {
            name: "Eve".into(),
            reason: "griefing".into(),
            by: "Console".into(),
            created: 1_704_456_000,
            expires: None,
        };
        from.ban("0b1f7f9c-1c70-4fd6-92e4-f6c1a2d0b001", ban.clone())
            .await
            .unwrap();
        from.ban_ip("10.0.0.1", ban.clone()).await.unwrap();
        let dir = scratch("round-trip");
        let exported = from.export_vanilla(&dir).await.unwrap();
        assert_eq!(
            exported.to_string(),
            "1 ops, 1 whitelisted players, 1 banned players, 1 banned IPs"
        );

        let to = accounts();
        assert_eq!(to.import_vanilla(&dir).await.unwrap(), exported);
        assert_eq!(to.ops().await.unwrap(), from.ops().await.unwrap());
        assert_eq!(
            to.whitelist().await.unwrap().entries,
            from.whitelist().await.unwrap().entries
        );
        assert_eq!(to.bans().await.unwrap(), from.bans().await.unwrap());
        assert_eq!(to.ip_bans().await.unwrap()[0].1.reason, "griefing");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_malformed_file_changes_nothing() {
        let dir = scratch("malformed");
        std::fs::create_dir_all(&dir).unwrap();
        let ops = format!(r#"[{{"uuid":"{ALEX}","name":"Alex","level":4}}]"#);
        std::fs::write(dir.join(OPS_FILE), ops).unwrap();
        std::fs::write(
            dir.join(BANNED_IPS_FILE),
            r#"[{"ip":"10.0.0.1"},{"ip":"x"}]"#,
        )
        .unwrap();
        let a = accounts();
        let error = a.import_vanilla(&dir).await.unwrap_err().to_string();
        assert!(error.starts_with("banned-ips.json, entry 2"), "{error}");
        assert!(a.ops().await.unwrap().entries.is_empty());
        assert!(a.ip_bans().await.unwrap().is_empty());

        let empty = scratch("empty");
        std::fs::create_dir_all(&empty).unwrap();
        assert!(matches!(
            a.import_vanilla(&empty).await,
            Err(TransferError::NothingToImport(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&empty);
    }
}
