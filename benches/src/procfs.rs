//! CPU time and memory of a process, read from `/proc/<pid>/stat` and `/proc/<pid>/status`.
//!
//! CPU is `utime + stime` (user and system time of every thread, fields 14 and 15 of
//! `stat`) in clock ticks, converted with `getconf CLK_TCK`; memory is `VmRSS` (now)
//! and `VmHWM` (the peak since the process started). Linux only; elsewhere every
//! figure is reported as unavailable rather than guessed.

use std::sync::OnceLock;

use anyhow::Context;

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcSample {
    /// User plus system CPU time so far, in milliseconds.
    pub(crate) cpu_ms: f64,
    /// Resident memory now, in bytes.
    pub(crate) rss_bytes: u64,
    /// Peak resident memory since start, in bytes.
    pub(crate) peak_rss_bytes: u64,
}

/// Reads the counters of `pid`.
pub(crate) fn sample(pid: u32) -> anyhow::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let ticks = cpu_ticks(&stat).context("unexpected /proc/<pid>/stat format")?;
    Ok(ProcSample {
        cpu_ms: ticks as f64 * 1000.0 / ticks_per_second() as f64,
        rss_bytes: status_kib(&status, "VmRSS:").unwrap_or(0) * 1024,
        peak_rss_bytes: status_kib(&status, "VmHWM:").unwrap_or(0) * 1024,
    })
}

/// `utime + stime` from the text of `/proc/<pid>/stat`.
///
/// The command name (field 2) is in parentheses and may contain spaces, so fields are
/// counted from the last `)`: the state (field 3) is the first one after it.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `kB` line of `/proc/<pid>/status`, such as `VmHWM:   23456 kB`.
fn status_kib(status: &str, label: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(label))?;
    line[label.len()..].split_whitespace().next()?.parse().ok()
}

/// Clock ticks per second (`getconf CLK_TCK`), 100 if it cannot be asked.
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|ticks| *ticks > 0)
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_counts_fields_after_the_command_name() {
        let stat = "4242 (herald (x) y) S 1 4242 4242 0 -1 4194560 500 0 0 0 120 30 0 0 20 0 9 0";
        assert_eq!(cpu_ticks(stat), Some(150));
    }

    #[test]
    fn status_kib_reads_the_labelled_line() {
        let status = "Name:\therald\nVmHWM:\t   23456 kB\nVmRSS:\t   20000 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(23456));
        assert_eq!(status_kib(status, "VmRSS:"), Some(20000));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn own_process_has_counters() {
        let own = sample(std::process::id()).expect("this process is readable");
        assert!(own.peak_rss_bytes >= own.rss_bytes && own.rss_bytes > 0);
    }
}
