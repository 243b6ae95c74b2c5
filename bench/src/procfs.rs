//! CPU time and resident memory of a process, from Linux's /proc.

use anyhow::{bail, Context};

/// A process's CPU time (user + system) and resident set at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub rss_mb: f64,
}

/// `pid` is a number or `self`.
pub fn usage(pid: &str) -> anyhow::Result<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    Ok(Usage {
        cpu_seconds: cpu_ticks(&stat)? as f64 / clock_ticks_per_second(),
        rss_mb: rss_kib(&status)? as f64 / 1024.0,
    })
}

/// utime + stime, fields 14 and 15 of `stat`. The command name (field 2) may
/// contain spaces and parentheses, so fields are counted from its closing one.
fn cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let after_name = stat.rfind(')').context("no command name in stat")?;
    let fields: Vec<&str> = stat[after_name + 1..].split_whitespace().collect();
    // Field 3 (state) is the first after the name, so field n is at n - 3.
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .context("stat too short")?
            .parse()
            .with_context(|| format!("stat field {n}"))
    };
    Ok(field(14)? + field(15)?)
}

fn rss_kib(status: &str) -> anyhow::Result<u64> {
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let kib = rest.trim().trim_end_matches("kB").trim();
            return kib.parse().context("VmRSS value");
        }
    }
    bail!("no VmRSS in status")
}

/// The machine's one-minute load average: how busy the cores were with
/// anything at all, including other work sharing the machine with a run.
pub fn load_average() -> anyhow::Result<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").context("reading /proc/loadavg")?;
    text.split_whitespace()
        .next()
        .context("empty /proc/loadavg")?
        .parse()
        .context("load average")
}

#[expect(unsafe_code, reason = "libc has no safe sysconf")]
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for unknown names.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_an_awkward_name_and_status() {
        let stat = "4242 (tes (se) ra) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0 100 1000 50";
        assert_eq!(cpu_ticks(stat).unwrap(), 300);
        let status = "Name:\ttessera\nVmPeak:\t  9000 kB\nVmRSS:\t   51200 kB\n";
        assert_eq!(rss_kib(status).unwrap(), 51200);
    }

    #[test]
    fn reads_its_own_process() {
        let u = usage("self").unwrap();
        assert!(u.rss_mb > 0.0 && u.cpu_seconds >= 0.0);
        assert!(load_average().unwrap() >= 0.0);
    }
}
