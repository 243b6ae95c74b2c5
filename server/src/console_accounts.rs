//! Console commands on accounts, bans, the whitelist and operators, and the
//! operator commands shared with the game (see `admin_commands`), plus the
//! console's own import and export of vanilla's operator files.

use std::path::Path;

use tessera_net::admin_commands::{self, Issuer};

use crate::node::Node;

/// Runs a shared operator command or an import/export; `None` when `words`
/// is neither.
pub async fn execute(node: &Node, words: &[&str]) -> Option<String> {
    let frontend = &node.frontend;
    match words {
        ["save-all"] => {
            let (saved, failed) = node.world.save_all().await;
            if let Err(e) = node.save_level().await {
                return Some(format!("{e:#}"));
            }
            Some(if failed == 0 {
                format!("Saved the game ({saved} regions on disk)")
            } else {
                format!("Saved {saved} regions; {failed} could not be saved now (their changes are safe in the journal and are saved later)")
            })
        }
        ["import", dir] => {
            let imported = frontend.auth.accounts.import_vanilla(Path::new(dir)).await;
            if imported.is_ok() {
                frontend.auth.ops.refresh();
            }
            Some(match imported {
                Ok(counts) => format!("Imported {counts} from {dir}"),
                Err(e) => format!("Import refused, nothing changed: {e}"),
            })
        }
        ["export", dir] => Some(
            match frontend.auth.accounts.export_vanilla(Path::new(dir)).await {
                Ok(counts) => format!("Exported {counts} to {dir}"),
                Err(e) => format!("Export failed: {e}"),
            },
        ),
        _ => admin_commands::execute(frontend, Issuer::Console, words).await,
    }
}
