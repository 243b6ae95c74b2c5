//! The load shapes: where each bot goes once it has spawned.

use std::str::FromStr;

use rand::rngs::SmallRng;
use rand::Rng;
use valence_protocol::math::{DVec2, DVec3};

use crate::motion::{random_point_in_disc, Path};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Bots scatter over a wide disc and wander around their own spot.
    Spread,
    /// Bots walk small circles near spawn, all in view of each other.
    Crowd,
    /// Bots walk back and forth along x across x = 0 (a region border).
    Border,
    /// Bots join at a fixed rate and stand still.
    JoinStorm,
    /// Bots join and stand still: the cost of a connected player doing nothing.
    Idle,
    /// Bots scatter over a disc, stand still and place and break stone
    /// around them: every change timed until the server confirms it.
    Build,
}

impl FromStr for Scenario {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "spread" => Scenario::Spread,
            "crowd" => Scenario::Crowd,
            "border" => Scenario::Border,
            "join-storm" => Scenario::JoinStorm,
            "idle" => Scenario::Idle,
            "build" => Scenario::Build,
            _ => {
                anyhow::bail!(
                    "unknown scenario `{s}` (spread, crowd, border, join-storm, idle or build)"
                )
            }
        })
    }
}

/// Where one bot goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub path: Path,
    /// A place to `/tp` to once after spawning; walked to if the server has no `/tp`.
    pub teleport: Option<DVec3>,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Spread => "spread",
            Scenario::Crowd => "crowd",
            Scenario::Border => "border",
            Scenario::JoinStorm => "join-storm",
            Scenario::Idle => "idle",
            Scenario::Build => "build",
        }
    }

    /// Bots stand still and do nothing but answer the server.
    pub fn idle(self) -> bool {
        matches!(self, Scenario::JoinStorm | Scenario::Idle)
    }

    /// The size of the area in blocks when `--area` does not say: the spread
    /// disc's radius, the crowd's radius, or how far either side of x = 0
    /// border walkers go.
    pub fn default_area(self) -> f64 {
        match self {
            Scenario::Spread => 512.0,
            Scenario::Crowd => 16.0,
            Scenario::Border => 40.0,
            Scenario::Build => 256.0,
            Scenario::JoinStorm | Scenario::Idle => 0.0,
        }
    }

    /// The measured window starts after joins settle, except for a join
    /// storm, where the joins are what is measured.
    pub fn measures_joins(self) -> bool {
        self == Scenario::JoinStorm
    }

    /// Plans one bot's walk from where the server spawned it.
    pub fn plan(self, spawn: DVec3, area: f64, rng: &mut SmallRng) -> Plan {
        let at = DVec2::new(spawn.x, spawn.z);
        match self {
            Scenario::Spread => {
                let home = random_point_in_disc(at, area, rng);
                Plan {
                    path: Path::Wander {
                        home,
                        radius: 16.0,
                        waypoint: home,
                    },
                    teleport: Some(DVec3::new(home.x, spawn.y, home.y)),
                }
            }
            Scenario::Crowd => {
                let radius = rng.random_range(1.5..3.0);
                let centre = random_point_in_disc(at, (area - radius).max(0.0), rng);
                Plan {
                    path: Path::Circle {
                        centre,
                        radius,
                        angle: rng.random_range(0.0..std::f64::consts::TAU),
                    },
                    teleport: None,
                }
            }
            Scenario::Border => Plan {
                path: Path::Shuttle {
                    x: [-area, area],
                    z: spawn.z + rng.random_range(-16.0..16.0),
                    towards: rng.random_range(0..2),
                },
                teleport: None,
            },
            Scenario::Build => {
                let home = random_point_in_disc(at, area, rng);
                Plan {
                    path: Path::Still,
                    teleport: Some(DVec3::new(
                        home.x.floor() + 0.5,
                        spawn.y,
                        home.y.floor() + 0.5,
                    )),
                }
            }
            Scenario::JoinStorm | Scenario::Idle => Plan {
                path: Path::Still,
                teleport: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            Scenario::Spread,
            Scenario::Crowd,
            Scenario::Border,
            Scenario::JoinStorm,
            Scenario::Idle,
            Scenario::Build,
        ] {
            assert_eq!(s.name().parse::<Scenario>().unwrap(), s);
        }
        assert!("nope".parse::<Scenario>().is_err());
    }

    #[test]
    fn crowds_stay_near_spawn_and_spread_goes_wide() {
        let mut rng = SmallRng::seed_from_u64(9);
        let spawn = DVec3::new(0.5, -60.0, 0.5);
        let mut farthest: f64 = 0.0;
        for _ in 0..1000 {
            let plan = Scenario::Crowd.plan(spawn, 16.0, &mut rng);
            let Path::Circle { centre, radius, .. } = plan.path else {
                panic!("{plan:?}")
            };
            assert!(centre.distance(DVec2::new(0.5, 0.5)) + radius <= 16.0);
            let plan = Scenario::Spread.plan(spawn, 512.0, &mut rng);
            let to = plan.teleport.unwrap();
            assert_eq!(to.y, -60.0);
            farthest = farthest.max(DVec2::new(to.x, to.z).length());
        }
        assert!(farthest > 400.0 && farthest <= 513.0);
    }
}
