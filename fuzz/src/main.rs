//! `tessera-fuzz <target|all> [--seconds N] [--seed S] [--timeout S]`:
//! fuzzes each target for N seconds from its committed corpus, prints the
//! executions run, and exits non-zero if any input crashed a target (the
//! inputs are in `fuzz/crashes/<target>/`). `tessera-fuzz <target> --input
//! FILE` runs one file, with the panic shown as usual.

use std::process::ExitCode;
use std::time::Duration;

use tessera_fuzz::coverage::Coverage;
use tessera_fuzz::driver::{self, Options};
use tessera_fuzz::targets::{self, Target, TARGETS};

const USAGE: &str = "usage: tessera-fuzz <target|all> [--seconds N] [--seed S] [--timeout S]
       tessera-fuzz <target> --input FILE";

/// The seed unless `--seed` says otherwise, so CI runs are the same.
const DEFAULT_SEED: u64 = 0x7e55_e4a0_f022;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            ExitCode::from(64)
        }
    }
}

fn number(value: Option<&String>, flag: &str) -> Result<u64, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    parsed.map_err(|e| format!("{flag} {value}: {e}"))
}

fn run(args: Vec<String>) -> Result<ExitCode, String> {
    let mut which = None;
    let mut input = None;
    let mut options = Options {
        seconds: 10,
        seed: DEFAULT_SEED,
        timeout: Duration::from_secs(10),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => options.seconds = number(args.next(), arg)?,
            "--seed" => options.seed = number(args.next(), arg)?,
            "--timeout" => options.timeout = Duration::from_secs(number(args.next(), arg)?),
            "--input" => input = Some(args.next().ok_or("--input needs a file")?.clone()),
            "-h" | "--help" => {
                println!("{USAGE}\ntargets: {}", names());
                return Ok(ExitCode::SUCCESS);
            }
            name if which.is_none() && !name.starts_with('-') => which = Some(name.to_owned()),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    let which = which.ok_or("name a target, or all")?;
    let chosen: Vec<&'static Target> = if which == "all" {
        TARGETS.iter().collect()
    } else {
        vec![targets::find(&which)
            .ok_or_else(|| format!("no target {which}; targets: {}", names()))?]
    };
    if let Some(file) = input {
        let bytes = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
        for target in chosen {
            (target.run)(&bytes);
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "fuzzing {} target(s) for {} s each, seed {:#x}, {}",
        chosen.len(),
        options.seconds,
        options.seed,
        if Coverage::enabled() {
            format!("coverage-guided ({} counters)", Coverage::counters())
        } else {
            "without coverage feedback (see fuzz/README.md)".to_owned()
        }
    );
    driver::install(&options);
    let mut crashed = false;
    for target in chosen {
        // Named before it runs: a run that aborts shows which target did it.
        print!("{:<20} ", target.name);
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let report = driver::run(target, &options).map_err(|e| format!("{}: {e}", target.name))?;
        let secs = report.elapsed.as_secs_f64();
        let coverage = if Coverage::enabled() {
            format!(
                ", {} counters reached, {} inputs kept",
                report.reached, report.found
            )
        } else {
            String::new()
        };
        println!(
            "{:>10} executions in {:>5.1} s ({:>8.0}/s), {} crash(es){coverage}",
            report.executions,
            secs,
            report.executions as f64 / secs.max(1e-9),
            report.crashes.len()
        );
        crashed |= !report.crashes.is_empty();
    }
    Ok(if crashed {
        eprintln!(
            "crashing inputs are in fuzz/crashes/: fix each, then move it to fuzz/regressions/"
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn names() -> String {
    TARGETS
        .iter()
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}
