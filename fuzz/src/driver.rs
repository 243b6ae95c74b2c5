//! The in-process fuzzing loop: each target's corpus is run, then mutated
//! inputs until the target's time is up. A panic, an input that runs past
//! the time limit or one that makes the target allocate past the memory
//! limit is a crash: the input is written to `crashes/<target>/`.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::corpus;
use crate::coverage::{self, Coverage};
use crate::mutate::{mutate, Rng};
use crate::targets::Target;

/// Live bytes past which a target is allocating without bound. No decoder
/// comes near it: the largest legitimate buffer is a region file's chunk
/// inflated to its cap of 256 MiB.
pub const MEMORY_LIMIT: usize = 1 << 30;

pub struct Options {
    pub seconds: u64,
    pub seed: u64,
    /// The longest one input may run.
    pub timeout: Duration,
}

/// What a target's run came to.
pub struct Report {
    pub executions: u64,
    pub elapsed: Duration,
    /// Inputs kept for reaching new coverage (none without coverage).
    pub found: usize,
    /// Coverage counters reached (0 without coverage).
    pub reached: usize,
    /// Where each crashing input was written.
    pub crashes: Vec<PathBuf>,
}

/// After this many crashes a target's run stops: more of them are most
/// likely the same bug.
const MAX_CRASHES: usize = 5;

/// The input being run, for the watchdog and the memory limit to write out.
static CURRENT: Mutex<(&str, Vec<u8>)> = Mutex::new(("", Vec::new()));
/// When the current input started, in milliseconds since `EPOCH` (0: none).
static STARTED: AtomicU64 = AtomicU64::new(0);
static EPOCH: OnceLock<Instant> = OnceLock::new();
/// The last panic's message, taken by the loop that caught it.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

fn now_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// Writes `input` of `target` to its crash folder.
fn write_crash(target: &str, kind: &str, input: &[u8]) -> PathBuf {
    let dir = corpus::dir("crashes", target);
    let path = dir.join(format!("{kind}-{}", corpus::name_of(input)));
    if let Err(e) = fs::create_dir_all(&dir).and_then(|()| fs::write(&path, input)) {
        eprintln!("cannot write {}: {e}", path.display());
    }
    path
}

/// Writes out the current input when the process must end over it.
fn abandon(kind: &str, detail: &str) -> ! {
    match CURRENT.try_lock() {
        Ok(current) => {
            let path = write_crash(current.0, kind, &current.1);
            eprintln!(
                "{}: {detail}; input written to {}",
                current.0,
                path.display()
            );
        }
        Err(_) => eprintln!("{detail}; the input could not be written"),
    }
    std::process::exit(2);
}

fn over_memory(live: usize) -> ! {
    abandon(
        "oom",
        &format!("{live} bytes live, over the limit of {MEMORY_LIMIT}"),
    )
}

/// Ends the process when an input runs longer than `timeout`.
fn watchdog(timeout: Duration) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(100));
        let started = STARTED.load(Ordering::Relaxed);
        if started != 0 && now_ms().saturating_sub(started) > timeout.as_millis() as u64 {
            abandon("timeout", &format!("an input ran longer than {timeout:?}"));
        }
    });
}

/// Sets up the process for `run`: the panic hook, the memory limit and the
/// watchdog. Call once.
pub fn install(options: &Options) {
    panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        if let Ok(mut last) = PANIC.lock() {
            *last = Some(message);
        }
    }));
    crate::alloc::arm(MEMORY_LIMIT, over_memory);
    coverage::no_profile_file();
    watchdog(options.timeout);
}

/// Runs `input` through `target`: the panic's message if it panics.
fn execute(target: &Target, input: &[u8]) -> Option<String> {
    if let Ok(mut current) = CURRENT.lock() {
        current.0 = target.name;
        current.1.clear();
        current.1.extend_from_slice(input);
    }
    STARTED.store(now_ms(), Ordering::Relaxed);
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    STARTED.store(0, Ordering::Relaxed);
    result.err().map(|_| {
        PANIC
            .lock()
            .ok()
            .and_then(|mut last| last.take())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

/// Fuzzes `target` for `options.seconds`: its regression inputs once, then
/// mutations of its seeds and, in a coverage build, of the inputs earlier
/// runs kept in `found/<target>/`. (Regression inputs are left out of the
/// mutations: they are often slow on purpose, a bomb or a deep nest.)
pub fn run(target: &'static Target, options: &Options) -> std::io::Result<Report> {
    let found_dir = corpus::dir("found", target.name);
    let regressions = corpus::load(&corpus::dir("regressions", target.name))?;
    let mut pool: Vec<Vec<u8>> = corpus::load(&corpus::dir("corpus", target.name))?
        .into_iter()
        .chain(corpus::load(&found_dir)?)
        .map(|(_, bytes)| bytes)
        .collect();
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    let mut report = Report {
        executions: 0,
        elapsed: Duration::ZERO,
        found: 0,
        reached: 0,
        crashes: Vec::new(),
    };
    let start = Instant::now();
    let deadline = start + Duration::from_secs(options.seconds);
    // Each target draws from its own stream, so one run of a target repeats
    // whatever else runs before it.
    let mut rng = Rng::new(options.seed ^ target_salt(target.name));
    let mut coverage = Coverage::default();
    coverage.reset();
    let mut attempt = |input: &[u8], report: &mut Report| -> bool {
        report.executions += 1;
        let crashed = execute(target, input);
        // Read (and zeroed) after every input, a crashing one too.
        let novel = coverage.novel();
        if let Some(message) = crashed {
            let path = write_crash(target.name, "crash", input);
            eprintln!(
                "{}: {message}\n  input written to {}",
                target.name,
                path.display()
            );
            report.crashes.push(path);
            return false;
        }
        novel
    };
    for (_, input) in &regressions {
        attempt(input, &mut report);
    }
    for input in pool.clone() {
        attempt(&input, &mut report);
    }
    let mut input = Vec::new();
    while Instant::now() < deadline && report.crashes.len() < MAX_CRASHES {
        input.clear();
        input.extend_from_slice(&pool[rng.below(pool.len())]);
        mutate(&mut rng, &mut input, &pool);
        if attempt(&input, &mut report) {
            report.found += 1;
            let saved = fs::create_dir_all(&found_dir)
                .and_then(|()| fs::write(found_dir.join(corpus::name_of(&input)), &input));
            if let Err(e) = saved {
                eprintln!("cannot keep an input in {}: {e}", found_dir.display());
            }
            pool.push(input.clone());
        }
    }
    report.elapsed = start.elapsed();
    report.reached = coverage.reached();
    Ok(report)
}

/// A number of the target's name, mixed into the seed.
fn target_salt(name: &str) -> u64 {
    name.bytes()
        .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(b))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
}
