//! Progress of an import or export on stderr: a bar redrawn in place when
//! stderr is a terminal, a plain line every few seconds when it is not.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_world::transfer::Progress;

const BAR: usize = 30;

/// Shows `progress` until dropped.
pub struct Display {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Display {
    pub fn start(verb: &'static str, progress: Arc<Progress>) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let finished = done.clone();
        let thread = std::thread::spawn(move || show(verb, &progress, &finished));
        Self {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn show(verb: &str, progress: &Progress, finished: &AtomicBool) {
    let terminal = std::io::stderr().is_terminal();
    let every = if terminal {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(5)
    };
    let started = Instant::now();
    let mut last = Instant::now();
    let mut drawn = false;
    while !finished.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if last.elapsed() < every {
            continue;
        }
        last = Instant::now();
        let line = line(verb, progress.get(), started.elapsed(), terminal);
        let mut err = std::io::stderr().lock();
        let _ = if terminal {
            write!(err, "\r{line}\x1b[K")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
        drawn = true;
    }
    if terminal && drawn {
        let _ = write!(std::io::stderr(), "\r\x1b[K");
    }
}

/// `[=====     ] 1234/10000 chunks, 2345 chunks/s` (the bar only on a terminal).
fn line(verb: &str, (done, total): (usize, usize), elapsed: Duration, bar: bool) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let figures = format!("{verb} {done}/{total} chunks, {rate:.0} chunks/s");
    if !bar {
        return figures;
    }
    let filled = (done * BAR).checked_div(total).unwrap_or(0).min(BAR);
    format!(
        "[{}{}] {figures}",
        "=".repeat(filled),
        " ".repeat(BAR - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_the_share_done_and_the_rate() {
        let half = line("imported", (50, 100), Duration::from_secs(2), true);
        assert_eq!(
            half,
            format!(
                "[{}{}] imported 50/100 chunks, 25 chunks/s",
                "=".repeat(15),
                " ".repeat(15)
            )
        );
        let plain = line("exported", (0, 0), Duration::from_secs(1), false);
        assert_eq!(plain, "exported 0/0 chunks, 0 chunks/s");
    }
}
