//! The swarm's command line.

use std::time::Duration;

use anyhow::{bail, Context};

use crate::behaviour::Habits;
use crate::scenario::Scenario;

pub const USAGE: &str = "\
usage: swarm [options]
  --scenario S        spread | crowd | border | join-storm | idle | build   (crowd)
  --host H            server address                               (127.0.0.1)
  --port P            server port                                  (25565)
  --bots N            bots to start                                (10)
  --rate R            joins per second                             (100 for join-storm, else 50)
  --duration S        seconds from the first join to leaving       (60)
  --warmup S          seconds after the last join before measuring (5; join-storm measures from the start)
  --area B            blocks: spread and build radius 512 and 256, crowd radius 16, border half-width 40
  --name-prefix P     bot names are P0, P1, ...                    (bot)
  --password PW       for /register and /login prompts             (tessera-bench)
  --view-distance V   view distance the bots ask for               (10)
  --chat-every S      seconds between a bot's chat messages, 0 = never   (120)
  --dig-every S       seconds between a bot's dig-and-place, 0 = never   (30)
  --jump-every S      seconds between a bot's jumps, 0 = never           (10)
  --glance-every S    seconds between a bot's glances around, 0 = never  (4)
  --build-every S     seconds between a builder's block changes, 0 = never (0.25 for build, else 0;
                      build bots stand still and do nothing else unless told)
  --join-timeout S    a bot not spawned after S seconds has failed (30)
  --seed N            seed of the bots' random choices             (1)
  --server-pid PID    report the server's CPU time and RSS from /proc
  --metrics-url URL   scrape MSPT from this Prometheus endpoint
  --wait-ready S      first wait up to S seconds for the port to accept";

/// Most characters in a Minecraft player name.
const MAX_NAME_LEN: usize = 16;

#[derive(Debug, Clone)]
pub struct Options {
    pub scenario: Scenario,
    pub host: String,
    pub port: u16,
    pub bots: u32,
    pub rate: f64,
    pub duration: Duration,
    pub warmup: Duration,
    pub area: f64,
    pub name_prefix: String,
    pub password: String,
    pub view_distance: u8,
    pub habits: Habits,
    pub join_timeout: Duration,
    pub seed: u64,
    pub server_pid: Option<u32>,
    pub metrics_url: Option<String>,
    pub wait_ready: Option<Duration>,
}

fn seconds(value: &str) -> anyhow::Result<Duration> {
    let s: f64 = value.parse()?;
    if !(0.0..=1e7).contains(&s) {
        bail!("{s} is not a duration in seconds");
    }
    Ok(Duration::from_secs_f64(s))
}

/// Parses the arguments after the program name; `Ok(None)` for `--help`.
pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Options>> {
    let mut flags = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(None);
        }
        let Some(flag) = arg.strip_prefix("--") else {
            bail!("unexpected argument `{arg}`");
        };
        let (flag, value) = match flag.split_once('=') {
            Some((f, v)) => (f.to_owned(), v.to_owned()),
            None => {
                let value = args
                    .next()
                    .with_context(|| format!("--{flag} needs a value"))?;
                (flag.to_owned(), value)
            }
        };
        flags.push((flag, value));
    }
    let scenario: Scenario = match flags.iter().find(|(f, _)| f == "scenario") {
        Some((_, v)) => v.parse()?,
        None => Scenario::Crowd,
    };
    let mut o = Options {
        scenario,
        host: "127.0.0.1".into(),
        port: 25565,
        bots: 10,
        rate: if scenario == Scenario::JoinStorm {
            100.0
        } else {
            50.0
        },
        duration: Duration::from_secs(60),
        warmup: Duration::from_secs(5),
        area: scenario.default_area(),
        name_prefix: "bot".into(),
        password: "tessera-bench".into(),
        view_distance: 10,
        habits: if scenario == Scenario::Build {
            Habits {
                build_every: 0.25,
                ..Habits::IDLE
            }
        } else {
            Habits {
                chat_every: 120.0,
                dig_every: 30.0,
                jump_every: 10.0,
                glance_every: 4.0,
                build_every: 0.0,
            }
        },
        join_timeout: Duration::from_secs(30),
        seed: 1,
        server_pid: None,
        metrics_url: None,
        wait_ready: None,
    };
    for (flag, value) in flags {
        let v = value.as_str();
        let bad = || format!("bad value `{v}` for --{flag}");
        match flag.as_str() {
            "scenario" => {}
            "host" => o.host = value,
            "port" => o.port = v.parse().with_context(bad)?,
            "bots" => o.bots = v.parse().with_context(bad)?,
            "rate" => o.rate = v.parse().with_context(bad)?,
            "duration" => o.duration = seconds(v).with_context(bad)?,
            "warmup" => o.warmup = seconds(v).with_context(bad)?,
            "area" => o.area = v.parse().with_context(bad)?,
            "name-prefix" => o.name_prefix = value,
            "password" => o.password = value,
            "view-distance" => o.view_distance = v.parse().with_context(bad)?,
            "chat-every" => o.habits.chat_every = seconds(v).with_context(bad)?.as_secs_f64(),
            "dig-every" => o.habits.dig_every = seconds(v).with_context(bad)?.as_secs_f64(),
            "jump-every" => o.habits.jump_every = seconds(v).with_context(bad)?.as_secs_f64(),
            "glance-every" => o.habits.glance_every = seconds(v).with_context(bad)?.as_secs_f64(),
            "build-every" => o.habits.build_every = seconds(v).with_context(bad)?.as_secs_f64(),
            "join-timeout" => o.join_timeout = seconds(v).with_context(bad)?,
            "seed" => o.seed = v.parse().with_context(bad)?,
            "server-pid" => o.server_pid = Some(v.parse().with_context(bad)?),
            "metrics-url" => o.metrics_url = Some(value),
            "wait-ready" => o.wait_ready = Some(seconds(v).with_context(bad)?),
            _ => bail!("unknown option --{flag}\n{USAGE}"),
        }
    }
    if o.scenario.idle() {
        o.habits = Habits::IDLE;
    }
    if !(o.rate > 0.0 && o.rate.is_finite()) {
        bail!("--rate must be positive");
    }
    if !(o.area >= 0.0 && o.area.is_finite()) {
        bail!("--area must be a non-negative number of blocks");
    }
    let longest = format!("{}{}", o.name_prefix, o.bots.saturating_sub(1));
    if longest.len() > MAX_NAME_LEN
        || !longest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        bail!("bot names like `{longest}` must be 1-16 letters, digits or _");
    }
    Ok(Some(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> anyhow::Result<Option<Options>> {
        parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn defaults_follow_the_scenario() {
        let o = parse_str("--scenario join-storm --bots 500")
            .unwrap()
            .unwrap();
        assert_eq!((o.bots, o.rate), (500, 100.0));
        assert_eq!(o.habits.chat_every, 0.0);
        let o = parse_str("--scenario=spread --rate 20 --duration 30")
            .unwrap()
            .unwrap();
        assert_eq!((o.area, o.rate), (512.0, 20.0));
        assert_eq!(o.duration, Duration::from_secs(30));
        assert!(parse_str("--help").unwrap().is_none());
        let o = parse_str("--scenario build").unwrap().unwrap();
        assert_eq!((o.habits.build_every, o.habits.chat_every), (0.25, 0.0));
    }

    #[test]
    fn rejects_mistakes() {
        assert!(parse_str("--bots").is_err());
        assert!(parse_str("--bots many").is_err());
        assert!(parse_str("--frobnicate 1").is_err());
        assert!(parse_str("--rate 0").is_err());
        assert!(parse_str("--name-prefix averyveryverylongname").is_err());
        assert!(parse_str("--name-prefix bad-name").is_err());
    }
}
