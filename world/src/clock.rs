//! The world's time: ticks since the world began and the time of day, as
//! level.dat keeps them (`Time`, `DayTime`), running on from where the
//! world was saved at 20 ticks a second.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Ticks in a Minecraft day.
pub const DAY: i64 = 24_000;

#[derive(Debug)]
pub struct WorldClock {
    time: i64,
    started: Instant,
    /// The time of day at an instant: where `/time` last put it, or where
    /// the world was saved.
    day: Mutex<(i64, Instant)>,
    /// The `doDaylightCycle` game rule: when off, the day stands still.
    daylight_cycle: bool,
}

fn ticks_since(at: Instant) -> i64 {
    i64::try_from(at.elapsed().as_millis() / 50).unwrap_or(i64::MAX)
}

impl WorldClock {
    /// A clock at `time` ticks, `day_time` into the days, from now on.
    pub fn new(time: i64, day_time: i64, daylight_cycle: bool) -> Self {
        let started = Instant::now();
        Self {
            time,
            started,
            day: Mutex::new((day_time, started)),
            daylight_cycle,
        }
    }

    /// (`Time`, `DayTime`) now.
    pub fn now(&self) -> (i64, i64) {
        let (day_time, at) = *self.day.lock().unwrap_or_else(PoisonError::into_inner);
        let day = if self.daylight_cycle {
            day_time.saturating_add(ticks_since(at))
        } else {
            day_time
        };
        (self.time.saturating_add(ticks_since(self.started)), day)
    }

    /// Puts the day at `day_time` from now on; the world's age runs on.
    pub fn set_day_time(&self, day_time: i64) {
        *self.day.lock().unwrap_or_else(PoisonError::into_inner) = (day_time, Instant::now());
    }

    /// The time of day as the World Time Update packet has it: negative
    /// tells the client the day stands still (vanilla sends -1 for 0).
    pub fn packet_time_of_day(&self) -> i64 {
        let (_, day) = self.now();
        if self.daylight_cycle {
            day
        } else {
            -day.max(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_runs_on_from_where_it_was_saved() {
        let clock = WorldClock::new(1_000_000, 30_000, true);
        let (time, day) = clock.now();
        assert!((1_000_000..1_000_020).contains(&time), "{time}");
        assert!((30_000..30_020).contains(&day), "{day}");
        assert!(clock.packet_time_of_day() >= 30_000);
        let still = WorldClock::new(5, 6000, false);
        std::thread::sleep(std::time::Duration::from_millis(120));
        assert_eq!(
            still.now().1,
            6000,
            "doDaylightCycle false: the day stands still"
        );
        assert!(still.now().0 >= 7, "the world's age still runs");
        assert_eq!(still.packet_time_of_day(), -6000);
        assert_eq!(WorldClock::new(0, 0, false).packet_time_of_day(), -1);
    }

    #[test]
    fn setting_the_day_moves_the_day_and_not_the_age() {
        let clock = WorldClock::new(50_000, 100, true);
        clock.set_day_time(13_000);
        let (time, day) = clock.now();
        assert!((50_000..50_020).contains(&time), "{time}");
        assert!((13_000..13_020).contains(&day), "{day}");
        let still = WorldClock::new(0, 100, false);
        still.set_day_time(18_000);
        assert_eq!(still.packet_time_of_day(), -18_000);
    }
}
