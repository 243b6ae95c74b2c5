//! What a bot does each tick once it is in the world: walk, look around,
//! jump, chat, dig and place. Pure decisions; the bot turns them into packets.

use rand::rngs::SmallRng;
use rand::Rng;
use valence_protocol::math::DVec3;
use valence_protocol::{BlockPos, Direction};

use crate::motion::{Moved, Walker};

/// Ticks per second of the client's movement loop.
pub const TICKS_PER_SECOND: u32 = 20;
/// Ticks a dig lasts: a grass block takes 0.9 s by hand in survival.
const DIG_TICKS: u32 = 22;
/// A standing vanilla client still reports its position once a second.
const IDLE_REPORT_TICKS: u32 = 20;
/// A builder waits this long after spawning (its `/gamemode` must land)
/// before it takes stone, and as long again before it builds.
const BUILD_SETTLE_TICKS: u32 = 40;
/// The columns around a builder it places on and clears again, in turn.
const BUILD_COLUMNS: [(i32, i32); 8] = [
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
    (-1, 0),
    (-1, -1),
    (0, -1),
    (1, -1),
];

/// How often the occasional things happen, in seconds between them on
/// average per bot; zero turns a thing off.
#[derive(Debug, Clone, Copy)]
pub struct Habits {
    pub chat_every: f64,
    pub dig_every: f64,
    pub jump_every: f64,
    pub glance_every: f64,
    /// Seconds between a builder's block changes (a creative placement of
    /// stone, then breaking it again); zero: the bot does not build.
    pub build_every: f64,
}

impl Habits {
    /// A bot that only stands and answers the server.
    pub const IDLE: Habits = Habits {
        chat_every: 0.0,
        dig_every: 0.0,
        jump_every: 0.0,
        glance_every: 0.0,
        build_every: 0.0,
    };
}

/// One thing to tell the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Move {
        position: DVec3,
        look: Option<(f32, f32)>,
        on_ground: bool,
    },
    Chat(String),
    StartDigging(BlockPos),
    FinishDigging(BlockPos),
    /// Use the held item on the top face of a block.
    PlaceOn(BlockPos),
    Swing,
    /// Switch to creative mode and take a stack of stone into the first
    /// hotbar slot: what a builder places.
    TakeStone,
}

/// Where a builder is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Build {
    /// Ticks until it takes its stone.
    Settling(u32),
    /// Ticks until its next change, and how many it made.
    Building { wait: u32, done: usize },
}

pub struct Behaviour {
    pub walker: Walker,
    habits: Habits,
    rng: SmallRng,
    /// A dig in progress: the block and the ticks until it breaks.
    digging: Option<(BlockPos, u32)>,
    since_report: u32,
    chats: u32,
    build: Option<Build>,
}

/// True with the chance that something happening every `seconds` on
/// average happens in one tick.
fn now_and_then(rng: &mut SmallRng, seconds: f64) -> bool {
    seconds > 0.0 && rng.random::<f64>() * seconds * f64::from(TICKS_PER_SECOND) < 1.0
}

impl Behaviour {
    pub fn new(walker: Walker, habits: Habits, rng: SmallRng) -> Self {
        Self {
            walker,
            habits,
            rng,
            digging: None,
            since_report: 0,
            chats: 0,
            build: (habits.build_every > 0.0).then_some(Build::Settling(BUILD_SETTLE_TICKS)),
        }
    }

    /// Whether this bot builds.
    pub fn builds(&self) -> bool {
        self.build.is_some()
    }

    /// A builder's next change: stone placed on the ground of one column
    /// around it, then that stone broken, then the next column.
    fn build(&mut self, actions: &mut Vec<Action>) {
        let every = (self.habits.build_every * f64::from(TICKS_PER_SECOND)).max(1.0) as u32;
        self.build = match self.build {
            None => None,
            Some(Build::Settling(0)) => {
                actions.push(Action::TakeStone);
                Some(Build::Building {
                    wait: BUILD_SETTLE_TICKS + self.rng.random_range(0..every),
                    done: 0,
                })
            }
            Some(Build::Settling(left)) => Some(Build::Settling(left - 1)),
            Some(Build::Building { wait: 0, done }) => {
                let p = self.walker.position;
                let (dx, dz) = BUILD_COLUMNS[(done / 2) % BUILD_COLUMNS.len()];
                let (x, y, z) = (
                    p.x.floor() as i32 + dx,
                    p.y.floor() as i32,
                    p.z.floor() as i32 + dz,
                );
                if done % 2 == 0 {
                    actions.push(Action::PlaceOn(BlockPos::new(x, y - 1, z)));
                } else {
                    actions.push(Action::StartDigging(BlockPos::new(x, y, z)));
                }
                actions.push(Action::Swing);
                Some(Build::Building {
                    wait: every - 1,
                    done: done + 1,
                })
            }
            Some(Build::Building { wait, done }) => Some(Build::Building {
                wait: wait - 1,
                done,
            }),
        };
    }

    /// One tick of the bot's life; `name` signs its chat.
    pub fn tick(&mut self, name: &str) -> Vec<Action> {
        let mut actions = Vec::new();
        self.build(&mut actions);
        let moved = match &mut self.digging {
            // A digging player stands still and keeps looking at the block.
            Some((pos, left)) => {
                *left -= 1;
                if *left == 0 {
                    let pos = *pos;
                    self.digging = None;
                    actions.push(Action::FinishDigging(pos));
                    actions.push(Action::PlaceOn(pos.get_in_direction(Direction::Down)));
                    actions.push(Action::Swing);
                }
                Moved {
                    position: false,
                    look: false,
                }
            }
            None => self.act(name, &mut actions),
        };
        self.since_report += 1;
        if moved.position || moved.look || self.since_report >= IDLE_REPORT_TICKS {
            self.since_report = 0;
            let w = &self.walker;
            actions.push(Action::Move {
                position: w.position,
                look: moved.look.then_some((w.yaw, w.pitch)),
                on_ground: w.on_ground(),
            });
        }
        actions
    }

    /// The occasional things, then a step.
    fn act(&mut self, name: &str, actions: &mut Vec<Action>) -> Moved {
        let rng = &mut self.rng;
        if now_and_then(rng, self.habits.chat_every) {
            self.chats += 1;
            actions.push(Action::Chat(format!("hello from {name} #{}", self.chats)));
        }
        if self.walker.on_ground() && now_and_then(rng, self.habits.dig_every) {
            // The ground block beside the one the bot stands on.
            let p = self.walker.position;
            let dx = if rng.random() { 1 } else { -1 };
            let pos = BlockPos::new(
                p.x.floor() as i32 + dx,
                p.y.floor() as i32 - 1,
                p.z.floor() as i32,
            );
            self.digging = Some((pos, DIG_TICKS));
            actions.push(Action::StartDigging(pos));
            actions.push(Action::Swing);
        }
        if self.digging.is_none() && now_and_then(rng, self.habits.jump_every) {
            self.walker.jump();
        }
        let glanced = now_and_then(rng, self.habits.glance_every);
        if glanced {
            self.walker.glance(rng);
        }
        let mut moved = self.walker.tick(rng);
        moved.look |= glanced;
        moved
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use valence_protocol::math::DVec2;

    use super::*;
    use crate::motion::Path;

    fn busy() -> Habits {
        Habits {
            chat_every: 1.0,
            dig_every: 1.0,
            jump_every: 1.0,
            glance_every: 1.0,
            build_every: 0.0,
        }
    }

    #[test]
    fn a_builder_takes_stone_then_places_and_breaks_in_turn() {
        let walker = Walker::new(DVec3::new(0.5, -60.0, 0.5), Path::Still);
        let habits = Habits {
            build_every: 0.25,
            ..Habits::IDLE
        };
        let mut b = Behaviour::new(walker, habits, SmallRng::seed_from_u64(5));
        let actions: Vec<Action> = (0..20 * 10).flat_map(|_| b.tick("bot")).collect();
        let stone = actions.iter().position(|a| *a == Action::TakeStone);
        let place = actions.iter().position(|a| matches!(a, Action::PlaceOn(_)));
        assert!(stone.unwrap() < place.unwrap(), "stone first: {actions:?}");
        let changes: Vec<&Action> = actions
            .iter()
            .filter(|a| matches!(a, Action::PlaceOn(_) | Action::StartDigging(_)))
            .collect();
        // Ten seconds, four before building starts, one change per 0.25 s.
        assert!(
            (20..=25).contains(&changes.len()),
            "{} changes",
            changes.len()
        );
        for pair in changes.chunks(2) {
            let [Action::PlaceOn(ground), Action::StartDigging(block)] = pair else {
                panic!("not a place then a dig: {pair:?}");
            };
            assert_eq!(ground.get_in_direction(Direction::Up), *block);
            assert_eq!(block.y, -60);
        }
    }

    #[test]
    fn an_idle_bot_reports_its_position_once_a_second() {
        let walker = Walker::new(DVec3::new(0.5, -60.0, 0.5), Path::Still);
        let mut b = Behaviour::new(walker, Habits::IDLE, SmallRng::seed_from_u64(3));
        let actions: Vec<Action> = (0..100).flat_map(|_| b.tick("bot")).collect();
        assert_eq!(actions.len(), 5);
        assert!(actions.iter().all(|a| matches!(
            a,
            Action::Move {
                look: None,
                on_ground: true,
                ..
            }
        )));
    }

    #[test]
    fn every_dig_is_finished_and_followed_by_a_place() {
        let walker = Walker::new(
            DVec3::new(0.5, -60.0, 0.5),
            Path::Wander {
                home: DVec2::ZERO,
                radius: 8.0,
                waypoint: DVec2::ZERO,
            },
        );
        let mut b = Behaviour::new(walker, busy(), SmallRng::seed_from_u64(4));
        let actions: Vec<Action> = (0..2000).flat_map(|_| b.tick("bot")).collect();
        let mut open = None;
        let (mut digs, mut chats) = (0, 0);
        for (i, a) in actions.iter().enumerate() {
            match a {
                Action::StartDigging(pos) => {
                    assert!(open.is_none(), "a dig started during another");
                    assert_eq!(pos.y, -61);
                    open = Some(*pos);
                }
                Action::FinishDigging(pos) => {
                    assert_eq!(open.take(), Some(*pos));
                    assert_eq!(
                        actions[i + 1],
                        Action::PlaceOn(pos.get_in_direction(Direction::Down))
                    );
                    digs += 1;
                }
                Action::Chat(_) => chats += 1,
                _ => {}
            }
        }
        assert!(digs > 10, "{digs} digs");
        assert!(chats > 20, "{chats} chats");
    }
}
