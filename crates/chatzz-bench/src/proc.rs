//! Readings from `/proc` (Linux): CPU time and resident memory of a process (the
//! server, its database, or this tool itself), the clock tick, the machine's CPU, and
//! the open-files limit.

use std::io;

/// Which process to read: another one by pid, or this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    This,
    Other(u32),
}

impl Pid {
    fn dir(self) -> String {
        match self {
            Self::This => "/proc/self".to_owned(),
            Self::Other(pid) => format!("/proc/{pid}"),
        }
    }
}

/// Clock ticks per second, the unit of `utime` and `stime` in `/proc/<pid>/stat`
/// (`sysconf(_SC_CLK_TCK)`, read through rustix).
pub fn clock_ticks_per_second() -> u64 {
    match rustix::param::clock_ticks_per_second() {
        0 => 100,
        n => n,
    }
}

/// User plus system CPU time of the process (all its threads), in clock ticks.
pub fn cpu_ticks(pid: Pid) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("{}/stat", pid.dir()))?;
    parse_cpu_ticks(&stat).ok_or_else(|| io::Error::other("unexpected /proc/<pid>/stat format"))
}

/// `pid (comm) state ppid ... utime stime ...`: utime and stime are fields 14 and 15.
/// `comm` may hold spaces and parentheses, so fields are counted after the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// User plus system CPU time, in clock ticks, of every process whose command line
/// (arguments joined by spaces, as `ps` shows it, which is where PostgreSQL puts a
/// backend's user, database and client) contains one of `patterns`, by pid; this tool
/// itself (whose arguments hold the patterns) is left out. Processes that vanish while
/// being read are skipped.
pub fn matching_processes(patterns: &[String]) -> io::Result<Vec<(u32, u64)>> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !patterns.iter().any(|p| cmdline.contains(p.as_str())) {
            continue;
        }
        if let Ok(ticks) = cpu_ticks(Pid::Other(pid)) {
            found.push((pid, ticks));
        }
    }
    Ok(found)
}

/// CPU time, in clock ticks, of each thread of `pid` whose name (`comm`, at most 15
/// bytes) starts with `prefix`, by thread id: the SQLite connections of a chatzz server
/// run on threads named `sqlx-sqlite-worker-N`.
pub fn matching_threads(pid: u32, prefix: &str) -> io::Result<Vec<(u32, u64)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Some(tid) = entry?
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = format!("/proc/{pid}/task/{tid}");
        let Ok(comm) = std::fs::read_to_string(format!("{dir}/comm")) else {
            continue;
        };
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        if let Some(ticks) = std::fs::read_to_string(format!("{dir}/stat"))
            .ok()
            .as_deref()
            .and_then(parse_cpu_ticks)
        {
            found.push((tid, ticks));
        }
    }
    Ok(found)
}

/// Busy CPU time of the whole machine (every CPU: user, nice, system, irq, softirq,
/// steal), in clock ticks, from the first line of `/proc/stat`.
pub fn machine_busy_ticks() -> io::Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    parse_machine_busy(&stat).ok_or_else(|| io::Error::other("unexpected /proc/stat format"))
}

/// `cpu  user nice system idle iowait irq softirq steal ...`
fn parse_machine_busy(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_ascii_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal] = f[..] else {
        return None;
    };
    Some(user + nice + system + irq + softirq + steal)
}

/// Resident memory (`VmRSS`) in KiB.
pub fn rss_kib(pid: Pid) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("{}/status", pid.dir()))?;
    parse_vm_rss(&status).ok_or_else(|| io::Error::other("no VmRSS in /proc/<pid>/status"))
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The first `model name` in `/proc/cpuinfo`.
pub fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

/// Raises this process's soft open-files limit to its hard limit; returns the new
/// soft limit.
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if setrlimit(Resource::Nofile, limit).is_err() {
            return getrlimit(Resource::Nofile).current;
        }
    }
    limit.current.or(Some(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 99 1000 200";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn parses_machine_stat() {
        let stat = "cpu  100 5 50 1000 7 1 2 3 0 0\ncpu0 50 2 25 500 3 0 1 1 0 0\n";
        assert_eq!(parse_machine_busy(stat), Some(161));
        assert_eq!(parse_machine_busy("cpu  1 2\n"), None);
    }

    #[test]
    fn parses_status() {
        let status = "Name:\tchatzz\nVmPeak:\t  10 kB\nVmRSS:\t   52340 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(52_340));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn finds_processes_and_threads() {
        let me = std::process::id();
        let name = std::fs::read(format!("/proc/{me}/cmdline")).expect("cmdline");
        let first = String::from_utf8_lossy(&name)
            .split('\0')
            .next()
            .unwrap_or_default()
            .to_owned();
        let found = matching_processes(&[first]).expect("scan");
        assert!(found.iter().all(|(pid, _)| *pid != me), "not itself");
        assert!(
            matching_processes(&["no such command line, surely".to_owned()])
                .expect("scan")
                .is_empty()
        );
        let threads = matching_threads(me, "").expect("threads");
        assert!(!threads.is_empty());
    }

    #[test]
    fn reads_this_process() {
        assert!(cpu_ticks(Pid::This).is_ok());
        assert!(rss_kib(Pid::This).is_ok_and(|kib| kib > 0));
        assert!(clock_ticks_per_second() > 0);
    }
}
