//! Where a bot walks: a path picks the next point to head for, and the
//! walker moves towards it at walking speed, jumping now and then.

use rand::rngs::SmallRng;
use rand::Rng;
use valence_protocol::math::{DVec2, DVec3};

/// Vanilla walking speed, 4.317 blocks per second, as a distance per tick.
pub const WALK_PER_TICK: f64 = 4.317 / 20.0;
/// Vertical speed a jump starts with, and what each tick does to it (vanilla).
const JUMP_VELOCITY: f64 = 0.42;
const GRAVITY: f64 = 0.08;
const DRAG: f64 = 0.98;

/// The shape of a bot's walk, in horizontal coordinates (x, z).
#[derive(Debug, Clone, PartialEq)]
pub enum Path {
    /// Stands where it is.
    Still,
    /// Heads for random points within `radius` of `home`, one after another.
    Wander {
        home: DVec2,
        radius: f64,
        waypoint: DVec2,
    },
    /// Walks round a circle; `angle` is where on it the bot is heading.
    Circle {
        centre: DVec2,
        radius: f64,
        angle: f64,
    },
    /// Walks along x between two values at a fixed z, back and forth.
    Shuttle { x: [f64; 2], z: f64, towards: usize },
}

impl Path {
    /// The point to head for now, moving on once the bot (at `at`) is there.
    fn target(&mut self, at: DVec2, rng: &mut SmallRng) -> Option<DVec2> {
        match self {
            Path::Still => None,
            Path::Wander {
                home,
                radius,
                waypoint,
            } => {
                if at.distance(*waypoint) < WALK_PER_TICK {
                    *waypoint = random_point_in_disc(*home, *radius, rng);
                }
                Some(*waypoint)
            }
            Path::Circle {
                centre,
                radius,
                angle,
            } => {
                let point = |a: f64| *centre + *radius * DVec2::new(a.cos(), a.sin());
                if at.distance(point(*angle)) < WALK_PER_TICK {
                    // One step of arc further on.
                    *angle += WALK_PER_TICK / *radius;
                }
                Some(point(*angle))
            }
            Path::Shuttle { x, z, towards } => {
                let end = DVec2::new(x[*towards], *z);
                if at.distance(end) < WALK_PER_TICK {
                    *towards = 1 - *towards;
                }
                Some(DVec2::new(x[*towards], *z))
            }
        }
    }
}

/// A uniformly random point in the disc of `radius` around `centre`.
pub fn random_point_in_disc(centre: DVec2, radius: f64, rng: &mut SmallRng) -> DVec2 {
    let r = radius * rng.random::<f64>().sqrt();
    let a = rng.random_range(0.0..std::f64::consts::TAU);
    centre + r * DVec2::new(a.cos(), a.sin())
}

/// A bot's body: position, where it looks, and a jump in progress.
#[derive(Debug, Clone)]
pub struct Walker {
    pub position: DVec3,
    pub yaw: f32,
    pub pitch: f32,
    /// Height of the ground the bot walks on: the y the server gave it.
    ground: f64,
    /// Vertical speed while in the air.
    rising: Option<f64>,
    pub path: Path,
}

/// What one tick changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    pub position: bool,
    pub look: bool,
}

impl Walker {
    pub fn new(position: DVec3, path: Path) -> Self {
        Self {
            position,
            yaw: 0.0,
            pitch: 0.0,
            ground: position.y,
            rising: None,
            path,
        }
    }

    /// The server put the bot somewhere: it stands there now.
    pub fn place(&mut self, position: DVec3, yaw: f32, pitch: f32) {
        self.position = position;
        self.ground = position.y;
        self.rising = None;
        self.yaw = yaw;
        self.pitch = pitch;
    }

    pub fn on_ground(&self) -> bool {
        self.rising.is_none()
    }

    pub fn jump(&mut self) {
        if self.rising.is_none() {
            self.rising = Some(JUMP_VELOCITY);
        }
    }

    /// Turns the head by a little, as a player glancing around does.
    pub fn glance(&mut self, rng: &mut SmallRng) {
        self.yaw = (self.yaw + rng.random_range(-45.0..45.0)).rem_euclid(360.0);
        self.pitch = (self.pitch + rng.random_range(-15.0..15.0)).clamp(-60.0, 60.0);
    }

    /// Advances one tick: a step along the path, and the jump if any.
    pub fn tick(&mut self, rng: &mut SmallRng) -> Moved {
        let mut moved = Moved {
            position: false,
            look: false,
        };
        let at = DVec2::new(self.position.x, self.position.z);
        if let Some(target) = self.path.target(at, rng) {
            let to = target - at;
            let distance = to.length();
            if distance > 0.0 {
                let step = to * (distance.min(WALK_PER_TICK) / distance);
                self.position.x += step.x;
                self.position.z += step.y;
                moved.position = true;
                let yaw = facing(step);
                // Turning to face the way is a look change only when it is one.
                if (yaw - self.yaw).abs() > 1.0 {
                    self.yaw = yaw;
                    moved.look = true;
                }
            }
        }
        if let Some(v) = self.rising {
            self.position.y += v;
            moved.position = true;
            if self.position.y <= self.ground {
                self.position.y = self.ground;
                self.rising = None;
            } else {
                self.rising = Some((v - GRAVITY) * DRAG);
            }
        }
        moved
    }
}

/// Minecraft's yaw for a horizontal direction: 0 faces +z, 90 faces -x.
fn facing(direction: DVec2) -> f32 {
    let yaw = (-direction.x).atan2(direction.y).to_degrees();
    yaw.rem_euclid(360.0) as f32
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn rng() -> SmallRng {
        SmallRng::seed_from_u64(1)
    }

    #[test]
    fn walks_at_walking_speed() {
        let start = DVec3::new(0.5, -60.0, 0.5);
        let mut w = Walker::new(
            start,
            Path::Wander {
                home: DVec2::new(1000.0, 0.0),
                radius: 1.0,
                waypoint: DVec2::new(1000.0, 0.5),
            },
        );
        let mut rng = rng();
        for _ in 0..20 {
            w.tick(&mut rng);
        }
        let walked = DVec2::new(w.position.x - start.x, w.position.z - start.z).length();
        assert!((walked - 4.317).abs() < 1e-9, "walked {walked}");
        assert_eq!(w.position.y, start.y);
    }

    #[test]
    fn a_jump_comes_back_down_to_the_ground() {
        let mut w = Walker::new(DVec3::new(0.0, -60.0, 0.0), Path::Still);
        let mut rng = rng();
        w.jump();
        let mut peak = w.position.y;
        let mut ticks = 0;
        while !w.on_ground() {
            w.tick(&mut rng);
            peak = peak.max(w.position.y);
            ticks += 1;
        }
        assert_eq!(w.position.y, -60.0);
        // Vanilla: about 1.25 blocks high, 12 ticks in the air.
        assert!((peak + 60.0 - 1.25).abs() < 0.05, "peak {peak}");
        assert!((11..=13).contains(&ticks), "{ticks} ticks");
    }

    #[test]
    fn circles_stay_on_the_circle_and_shuttles_turn_round() {
        let mut rng = rng();
        let centre = DVec2::new(3.0, 4.0);
        let mut w = Walker::new(
            DVec3::new(5.0, 0.0, 4.0),
            Path::Circle {
                centre,
                radius: 2.0,
                angle: 0.0,
            },
        );
        for _ in 0..400 {
            w.tick(&mut rng);
            let d = DVec2::new(w.position.x, w.position.z).distance(centre);
            assert!((d - 2.0).abs() < 0.05, "off the circle: {d}");
        }
        let mut w = Walker::new(
            DVec3::new(0.0, 0.0, 0.0),
            Path::Shuttle {
                x: [-2.0, 2.0],
                z: 0.0,
                towards: 1,
            },
        );
        let mut xs = Vec::new();
        for _ in 0..200 {
            w.tick(&mut rng);
            xs.push(w.position.x);
        }
        assert!(xs.iter().all(|x| (-2.0..=2.0).contains(x)));
        assert!(xs.iter().any(|&x| x < -1.9) && xs.iter().any(|&x| x > 1.9));
    }

    #[test]
    fn yaw_follows_minecraft_convention() {
        assert_eq!(facing(DVec2::new(0.0, 1.0)), 0.0);
        assert_eq!(facing(DVec2::new(-1.0, 0.0)), 90.0);
        assert_eq!(facing(DVec2::new(0.0, -1.0)), 180.0);
        assert_eq!(facing(DVec2::new(1.0, 0.0)), 270.0);
    }
}
