//! The environment names of the itzg/minecraft-server image, where they map
//! cleanly onto a config key, so an operator's env files carry over:
//! `MAX_PLAYERS=50` acts as `TESSERA_SERVER_MAX_PLAYERS=50`. A `TESSERA_*`
//! variable set as well wins. `EULA` and the image's other names mean nothing
//! here and are left alone, as every variable not named below is.

/// itzg name → Tessera's variable, and whether the value is a boolean (the
/// image writes `TRUE`/`FALSE`).
const ALIASES: [(&str, &str, bool); 8] = [
    ("MAX_PLAYERS", "TESSERA_SERVER_MAX_PLAYERS", false),
    ("MOTD", "TESSERA_SERVER_MOTD", false),
    ("VIEW_DISTANCE", "TESSERA_SERVER_VIEW_DISTANCE", false),
    ("ONLINE_MODE", "TESSERA_SERVER_ONLINE_MODE", true),
    ("SEED", "TESSERA_WORLD_SEED", false),
    ("ENABLE_RCON", "TESSERA_RCON_ENABLED", true),
    ("RCON_PASSWORD", "TESSERA_RCON_PASSWORD", false),
    ("ENABLE_QUERY", "TESSERA_QUERY_ENABLED", true),
];

/// `env` with each itzg name turned into its `TESSERA_*` variable, unless
/// that is set too.
pub fn apply(env: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let env: Vec<(String, String)> = env.into_iter().collect();
    let set = |name: &str| env.iter().any(|(key, _)| key == name);
    let mut out: Vec<(String, String)> = Vec::new();
    for (key, value) in &env {
        match ALIASES.iter().find(|(alias, _, _)| alias == key) {
            Some((_, target, _)) if set(target) => {}
            Some((_, target, boolean)) => {
                let value = if *boolean {
                    value.trim().to_ascii_lowercase()
                } else {
                    value.clone()
                };
                out.push(((*target).to_owned(), value));
            }
            None => out.push((key.clone(), value.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn itzg_names_become_config_overrides_and_booleans_lower_case() {
        let out = apply(env(&[
            ("MAX_PLAYERS", "50"),
            ("ONLINE_MODE", "FALSE"),
            ("EULA", "TRUE"),
        ]));
        assert!(out.contains(&("TESSERA_SERVER_MAX_PLAYERS".into(), "50".into())));
        assert!(out.contains(&("TESSERA_SERVER_ONLINE_MODE".into(), "false".into())));
        assert!(out.contains(&("EULA".into(), "TRUE".into())), "left alone");
    }

    #[test]
    fn a_tessera_variable_wins_over_its_alias() {
        let out = apply(env(&[
            ("MOTD", "from itzg"),
            ("TESSERA_SERVER_MOTD", "ours"),
        ]));
        let motds: Vec<_> = out
            .iter()
            .filter(|(k, _)| k == "TESSERA_SERVER_MOTD")
            .collect();
        assert_eq!(
            motds,
            vec![&("TESSERA_SERVER_MOTD".to_owned(), "ours".to_owned())]
        );
    }
}
