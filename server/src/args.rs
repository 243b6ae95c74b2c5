//! The command line: `tessera [--config <path>] [import <folder> [--force]
//! [--skip-damaged] | export <folder>]`.

use std::path::PathBuf;

use anyhow::Context;

pub const USAGE: &str = "usage: tessera [--config <path to config.toml>]
       tessera [--config <path>] import <vanilla world folder> [--force] [--skip-damaged]
       tessera [--config <path>] export <new folder>";

#[derive(Debug, PartialEq)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Bring a vanilla world into the configured data_dir.
    Import {
        source: PathBuf,
        force: bool,
        skip_damaged: bool,
    },
    /// Write the configured data_dir's world as a vanilla world folder.
    Export { target: PathBuf },
}

#[derive(Debug, PartialEq)]
pub struct Args {
    pub config: PathBuf,
    pub command: Command,
}

/// `None` when the user asked for help.
pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Args>> {
    let mut args = args.into_iter();
    let mut config = PathBuf::from("config.toml");
    let mut command = Command::Serve;
    while let Some(arg) = args.next() {
        match (arg.as_str(), &mut command) {
            ("--config" | "-c", _) => config = args.next().map(PathBuf::from).context(USAGE)?,
            ("--help" | "-h", _) => return Ok(None),
            ("import", Command::Serve) => {
                let source = args.next().map(PathBuf::from).context(USAGE)?;
                command = Command::Import {
                    source,
                    force: false,
                    skip_damaged: false,
                };
            }
            ("export", Command::Serve) => {
                let target = args.next().map(PathBuf::from).context(USAGE)?;
                command = Command::Export { target };
            }
            ("--force", Command::Import { force, .. }) => *force = true,
            ("--skip-damaged", Command::Import { skip_damaged, .. }) => *skip_damaged = true,
            (other, _) => anyhow::bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    Ok(Some(Args { config, command }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> anyhow::Result<Option<Args>> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn subcommands_take_their_folder_and_flags_and_config_anywhere() {
        let serve = parsed("--config x.toml").unwrap().unwrap();
        assert_eq!(serve.command, Command::Serve);
        assert_eq!(serve.config, PathBuf::from("x.toml"));
        let import = parsed("import world --force -c y.toml").unwrap().unwrap();
        assert_eq!(
            import.command,
            Command::Import {
                source: "world".into(),
                force: true,
                skip_damaged: false
            }
        );
        assert_eq!(import.config, PathBuf::from("y.toml"));
        let export = parsed("export out").unwrap().unwrap();
        assert_eq!(
            export.command,
            Command::Export {
                target: "out".into()
            }
        );
        assert!(parsed("--help").unwrap().is_none());
        assert!(parsed("import").is_err(), "a folder is required");
        assert!(parsed("export out --force").is_err(), "--force is import's");
        assert!(parsed("--force").is_err());
        assert!(parsed("import a export b").is_err());
    }
}
