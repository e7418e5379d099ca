//! Shared measurements: counters, per-message state, latency histograms (sharded so
//! connections rarely contend), and the final report as a table or JSON.
//!
//! Every message has a global sequence number. The schedule gives message `seq` the
//! intended send time `start + seq / rate`; the messages whose intended time falls in
//! the measured window (after the warm-up) are the measured ones, a contiguous range
//! of sequence numbers. Each message has a few state bits, so that at the end the
//! measured messages that were written but never reached their recipient (nor were
//! refused by an error ack) can be counted as lost.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

/// State bits of one message.
pub mod bits {
    /// Written to the sender's socket.
    pub const WRITTEN: u8 = 1;
    /// Arrived as `new-message` at the recipient.
    pub const RECEIVED: u8 = 2;
    pub const ACK_OK: u8 = 4;
    pub const ACK_ERR: u8 = 8;
    /// Given up by the tool: its connection's queue was full or closed, or the write
    /// failed.
    pub const DROPPED: u8 = 16;
}

const SHARDS: usize = 16;
/// Histograms hold microseconds from 1 µs to 10 minutes, 3 significant digits.
const HIST_MAX_US: u64 = 600_000_000;

/// The latency histograms of one shard.
#[derive(Debug)]
pub struct Hists {
    /// Socket write to arrival at the recipient.
    pub latency: Histogram<u64>,
    /// Socket write to ack.
    pub ack: Histogram<u64>,
    /// Intended send time to socket write: how far the tool fell behind its schedule.
    pub lag: Histogram<u64>,
}

impl Hists {
    fn new() -> Self {
        let h = || match Histogram::new_with_bounds(1, HIST_MAX_US, 3) {
            Ok(h) => h,
            // The bounds are constants that hdrhistogram accepts.
            Err(_) => unreachable!("valid histogram bounds"),
        };
        Self {
            latency: h(),
            ack: h(),
            lag: h(),
        }
    }
}

/// Counters and histograms shared by every connection and the scheduler.
#[derive(Debug)]
pub struct Stats {
    epoch: Instant,
    /// Measured sequence numbers: `measured.0 <= seq < measured.1`.
    measured: (u64, u64),
    /// Measured window in ns since the epoch, set when the load starts.
    window_start_ns: AtomicU64,
    window_end_ns: AtomicU64,

    /// Sends the schedule produced.
    pub scheduled: AtomicU64,
    /// Sends that could not be queued to their connection (queue full or closed).
    pub client_dropped: AtomicU64,
    /// Sends written to a socket.
    pub written: AtomicU64,
    /// Sends whose socket write failed.
    pub write_failed: AtomicU64,
    /// `new-message` arrivals at the recipient (first arrivals only).
    pub delivered: AtomicU64,
    /// Of those, arrivals during the measured window.
    pub delivered_in_window: AtomicU64,
    pub duplicates: AtomicU64,
    /// `new-message` arrivals at the recipient whose text this run did not write.
    pub foreign: AtomicU64,
    pub acks_ok: AtomicU64,
    pub acks_err: AtomicU64,
    pub status_changes: AtomicU64,
    /// `message-read` acks (with `--read`).
    pub reads_ok: AtomicU64,
    pub reads_err: AtomicU64,
    /// Frames that could not be decoded.
    pub decode_errors: AtomicU64,
    /// Connections the server closed (or that failed) after setup.
    pub disconnects: AtomicU64,

    errors: Mutex<BTreeMap<String, u64>>,
    states: Box<[AtomicU8]>,
    shards: Box<[Mutex<Hists>]>,
}

impl Stats {
    /// Room for `capacity` messages, of which `measured` are the measured ones.
    pub fn new(capacity: u64, measured: (u64, u64)) -> Self {
        let states = (0..capacity).map(|_| AtomicU8::new(0)).collect();
        let shards = (0..SHARDS).map(|_| Mutex::new(Hists::new())).collect();
        Self {
            epoch: Instant::now(),
            measured,
            window_start_ns: AtomicU64::new(u64::MAX),
            window_end_ns: AtomicU64::new(u64::MAX),
            scheduled: AtomicU64::new(0),
            client_dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            write_failed: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            delivered_in_window: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
            acks_ok: AtomicU64::new(0),
            acks_err: AtomicU64::new(0),
            status_changes: AtomicU64::new(0),
            reads_ok: AtomicU64::new(0),
            reads_err: AtomicU64::new(0),
            decode_errors: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            states,
            shards,
        }
    }

    /// Nanoseconds since this run's epoch.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    pub fn capacity(&self) -> u64 {
        self.states.len() as u64
    }

    pub fn is_measured(&self, seq: u64) -> bool {
        (self.measured.0..self.measured.1).contains(&seq)
    }

    pub fn set_window(&self, start_ns: u64, end_ns: u64) {
        self.window_start_ns.store(start_ns, Relaxed);
        self.window_end_ns.store(end_ns, Relaxed);
    }

    fn in_window(&self, ns: u64) -> bool {
        ns >= self.window_start_ns.load(Relaxed) && ns < self.window_end_ns.load(Relaxed)
    }

    /// Sets state bits of a message; returns the bits it had before.
    pub fn mark(&self, seq: u64, bit: u8) -> u8 {
        usize::try_from(seq)
            .ok()
            .and_then(|i| self.states.get(i))
            .map_or(0, |s| s.fetch_or(bit, Relaxed))
    }

    fn shard(&self, conn: usize) -> std::sync::MutexGuard<'_, Hists> {
        let m = &self.shards[conn % SHARDS];
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A message written by connection `conn` at `now_ns`.
    pub fn on_written(&self, conn: usize, seq: u64, intended_ns: u64, now_ns: u64) {
        self.written.fetch_add(1, Relaxed);
        self.mark(seq, bits::WRITTEN);
        if self.is_measured(seq) {
            let lag = now_ns.saturating_sub(intended_ns) / 1000;
            self.shard(conn).lag.saturating_record(lag.max(1));
        }
    }

    /// A `new-message` for `seq`, written at `sent_ns`, arrived at its recipient,
    /// connection `conn`, at `now_ns`.
    pub fn on_received(&self, conn: usize, seq: u64, sent_ns: u64, now_ns: u64) {
        let before = self.mark(seq, bits::RECEIVED);
        if before & bits::RECEIVED != 0 {
            self.duplicates.fetch_add(1, Relaxed);
            return;
        }
        self.delivered.fetch_add(1, Relaxed);
        if self.in_window(now_ns) {
            self.delivered_in_window.fetch_add(1, Relaxed);
        }
        if self.is_measured(seq) {
            let us = now_ns.saturating_sub(sent_ns) / 1000;
            self.shard(conn).latency.saturating_record(us.max(1));
        }
    }

    /// The ack of `seq`, written at `written_ns`, arrived at `now_ns`.
    pub fn on_ack(&self, conn: usize, seq: u64, written_ns: u64, now_ns: u64, error: Option<&str>) {
        match error {
            None => {
                self.acks_ok.fetch_add(1, Relaxed);
                self.mark(seq, bits::ACK_OK);
            }
            Some(code) => {
                self.acks_err.fetch_add(1, Relaxed);
                self.mark(seq, bits::ACK_ERR);
                self.count_error(code);
            }
        }
        if self.is_measured(seq) {
            let us = now_ns.saturating_sub(written_ns) / 1000;
            self.shard(conn).ack.saturating_record(us.max(1));
        }
    }

    /// Counts an error by code (error acks, `error` events, setup failures).
    pub fn count_error(&self, code: &str) {
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match errors.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                errors.insert(code.to_owned(), 1);
            }
        }
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Measured messages still waiting to be written, or written but neither received
    /// nor refused, so far.
    pub fn unresolved_measured(&self) -> u64 {
        let fate = self.fate();
        fate.lost + fate.queued
    }

    /// What became of the measured messages.
    pub fn fate(&self) -> Fate {
        let (from, to) = self.measured;
        let mut fate = Fate::default();
        let end = usize::try_from(to)
            .unwrap_or(usize::MAX)
            .min(self.states.len());
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(end);
        for s in &self.states[start..end] {
            let b = s.load(Relaxed);
            if b & bits::WRITTEN == 0 {
                if b & bits::DROPPED != 0 {
                    fate.not_written += 1;
                } else {
                    fate.queued += 1;
                }
                continue;
            }
            fate.written += 1;
            if b & bits::RECEIVED != 0 {
                fate.received += 1;
            } else if b & bits::ACK_ERR != 0 {
                fate.refused += 1;
            } else {
                fate.lost += 1;
                if b & bits::ACK_OK != 0 {
                    fate.lost_after_ok_ack += 1;
                }
            }
        }
        fate
    }

    /// All shards merged.
    pub fn merged(&self) -> Hists {
        let mut all = Hists::new();
        for shard in &self.shards {
            let h = shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Same bounds everywhere, so adding cannot fail.
            let _ = all.latency.add(&h.latency);
            let _ = all.ack.add(&h.ack);
            let _ = all.lag.add(&h.lag);
        }
        all
    }

    /// A snapshot of the counters for progress lines.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            scheduled: self.scheduled.load(Relaxed),
            written: self.written.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            acks: self.acks_ok.load(Relaxed) + self.acks_err.load(Relaxed),
            errors: self.acks_err.load(Relaxed)
                + self.write_failed.load(Relaxed)
                + self.client_dropped.load(Relaxed)
                + self.decode_errors.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
        }
    }
}

/// What became of the measured messages.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Fate {
    /// Never written: the tool could not queue or write them.
    pub not_written: u64,
    /// Scheduled (or not yet) and still waiting in the tool's queues.
    pub queued: u64,
    pub written: u64,
    pub received: u64,
    /// Refused with an error ack.
    pub refused: u64,
    /// Written, neither received nor refused.
    pub lost: u64,
    /// Of the lost, those whose ack said all was well.
    pub lost_after_ok_ack: u64,
}

/// Counters at one instant.
#[derive(Debug, Default, Clone, Copy)]
pub struct Snapshot {
    pub scheduled: u64,
    pub written: u64,
    pub delivered: u64,
    pub acks: u64,
    pub errors: u64,
    pub disconnects: u64,
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }

    fn row(&self, name: &str) -> String {
        format!(
            "{name:<22} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}   (n={})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms, self.count
        )
    }
}

/// CPU used by one process over the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessCpu {
    pub pid: Option<u32>,
    pub cpu_seconds: f64,
    /// Percent of one core (200 = two cores busy).
    pub cpu_percent_of_core: f64,
    pub cpu_seconds_per_1000_delivered: Option<f64>,
    pub rss_end_kib: Option<u64>,
}

/// What the `database` CPU figure counted.
#[derive(Debug, Clone, Serialize)]
pub struct DbCounted {
    pub what: String,
    /// Processes (or threads) counted at the end of the window.
    pub processes_or_threads: usize,
    /// The database runs inside the server (SQLite): its CPU is part of the server's.
    pub inside_server: bool,
}

/// The whole machine's CPU over the measured window, to tell whether something else
/// competed with the server and the tool.
#[derive(Debug, Clone, Serialize)]
pub struct MachineCpu {
    pub busy_cpu_seconds: f64,
    /// Percent of all CPUs.
    pub busy_percent: f64,
    /// Busy time not spent in the server, the database or the tool.
    pub others_cpu_seconds: f64,
}

/// Server memory around connecting everyone.
#[derive(Debug, Clone, Serialize)]
pub struct ServerMemory {
    pub rss_before_connect_kib: u64,
    pub rss_after_connect_kib: u64,
    pub rss_per_connection_kib: f64,
}

/// Whether a run measured the server and not the tool: a tool that saturated its
/// threads, or fell behind its own schedule, offered less load than it reports.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Validity {
    pub valid: bool,
    /// Why not, when not.
    pub reasons: Vec<String>,
    /// Not invalidating, but worth knowing (the whole machine was busy, say).
    pub warnings: Vec<String>,
}

/// The tool's CPU, as a share of its threads' cores, at which it counts as saturated.
pub const TOOL_SATURATED_PERCENT: f64 = 90.0;

/// The send lag (a message written later than its schedule said) at p99 beyond which
/// the tool counts as having fallen behind.
pub const TOOL_LAG_P99_MS: f64 = 20.0;

/// The machine's busy share beyond which the tool and server competed for CPU.
pub const MACHINE_BUSY_PERCENT: f64 = 95.0;

impl Validity {
    /// Judges a run from the tool's CPU (`threads` worker threads), its send lag and
    /// the machine's CPU.
    pub fn judge(
        tool: &ProcessCpu,
        threads: usize,
        send_lag: &Percentiles,
        machine: Option<&MachineCpu>,
    ) -> Self {
        let mut reasons = Vec::new();
        let capacity = TOOL_SATURATED_PERCENT * threads.max(1) as f64;
        if tool.cpu_percent_of_core >= capacity {
            reasons.push(format!(
                "the tool used {:.0}% of a core with {threads} threads (>= {capacity:.0}%): it was the bottleneck",
                tool.cpu_percent_of_core
            ));
        }
        if send_lag.count > 0 && send_lag.p99_ms > TOOL_LAG_P99_MS {
            reasons.push(format!(
                "the tool fell behind its schedule (send lag p99 {:.1} ms > {TOOL_LAG_P99_MS} ms): less load was offered than the rate says",
                send_lag.p99_ms
            ));
        }
        let warnings = machine
            .filter(|m| m.busy_percent >= MACHINE_BUSY_PERCENT)
            .map(|m| {
                format!(
                    "the machine was {:.0}% busy: the tool and the server competed for CPU",
                    m.busy_percent
                )
            })
            .into_iter()
            .collect();
        Self {
            valid: reasons.is_empty(),
            reasons,
            warnings,
        }
    }
}

/// The whole result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub config: ConfigEcho,
    pub connections: u64,
    pub connect_failures: u64,
    pub pair_failures: u64,
    pub setup_seconds: f64,
    /// Sends scheduled in the measured window, per second.
    pub offered_per_s: f64,
    /// Sends written in the measured window, per second.
    pub sent_per_s: f64,
    /// `new-message` arrivals at recipients during the measured window, per second.
    pub delivered_per_s: f64,
    pub acks_ok: u64,
    pub acks_err: u64,
    /// `message-read` acks, when recipients read (`--read`).
    pub reads: Option<(u64, u64)>,
    pub errors_by_code: BTreeMap<String, u64>,
    pub measured: Fate,
    pub duplicates: u64,
    pub foreign_messages: u64,
    pub decode_errors: u64,
    pub client_dropped: u64,
    pub write_failed: u64,
    pub disconnects: u64,
    pub grace_seconds_used: f64,
    pub latency: Percentiles,
    pub ack_latency: Percentiles,
    pub send_lag: Percentiles,
    pub tool: ProcessCpu,
    pub server: Option<ProcessCpu>,
    pub server_memory: Option<ServerMemory>,
    pub db: Option<ProcessCpu>,
    pub db_counted: Option<DbCounted>,
    pub machine_cpu: Option<MachineCpu>,
    pub clock_ticks_per_second: u64,
    /// Whether the run measured the server (see [`Validity::judge`]).
    pub validity: Validity,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigEcho {
    pub url: String,
    pub users: usize,
    pub idle: usize,
    pub pairs: usize,
    pub rate: f64,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub threads: usize,
    pub pad: usize,
    pub client_message_id: bool,
    pub read: bool,
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let c = &self.config;
        let _ = writeln!(
            s,
            "machine      {} x {}",
            self.machine.nproc,
            self.machine.cpu_model.as_deref().unwrap_or("unknown CPU")
        );
        let _ = writeln!(
            s,
            "run          {} users ({} pairs) + {} idle = {} connections, rate {}/s, warmup {}s, measured {}s, {} tool threads, text pad {}, clientMessageId {}, read {}",
            c.users,
            c.pairs,
            c.idle,
            self.connections,
            c.rate,
            c.warmup_s,
            c.duration_s,
            c.threads,
            c.pad,
            c.client_message_id,
            c.read
        );
        let _ = writeln!(
            s,
            "setup        {:.1}s, {} connect failures, {} add-chat-user failures",
            self.setup_seconds, self.connect_failures, self.pair_failures
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "offered      {:>10.0} msg/s", self.offered_per_s);
        let _ = writeln!(s, "sent         {:>10.0} msg/s", self.sent_per_s);
        let _ = writeln!(
            s,
            "delivered    {:>10.0} msg/s (arrivals at recipients during the window)",
            self.delivered_per_s
        );
        let m = &self.measured;
        let _ = writeln!(
            s,
            "measured     {} written, {} received, {} refused by an error ack, {} not written by the tool",
            m.written, m.received, m.refused, m.not_written
        );
        let _ = writeln!(
            s,
            "lost         {} not received within the grace period: {} acked ok, {} never acked (a longer --grace tells late from lost)",
            m.lost,
            m.lost_after_ok_ack,
            m.lost - m.lost_after_ok_ack
        );
        let _ = writeln!(
            s,
            "acks         {} ok, {} errors (whole run); duplicates {}, foreign {}, decode errors {}, queue drops {}, write failures {}, disconnects {}",
            self.acks_ok,
            self.acks_err,
            self.duplicates,
            self.foreign_messages,
            self.decode_errors,
            self.client_dropped,
            self.write_failed,
            self.disconnects
        );
        if let Some((ok, err)) = self.reads {
            let _ = writeln!(s, "reads        {ok} ok, {err} errors (whole run)");
        }
        if self.errors_by_code.is_empty() {
            let _ = writeln!(s, "errors       none");
        } else {
            let list: Vec<String> = self
                .errors_by_code
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(s, "errors       {}", list.join(", "));
        }
        let _ = writeln!(
            s,
            "grace        {:.1}s waited after the window",
            self.grace_seconds_used
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "p50", "p90", "p99", "p99.9", "max"
        );
        let _ = writeln!(s, "{}", self.latency.row("send -> receive"));
        let _ = writeln!(s, "{}", self.ack_latency.row("ack"));
        let _ = writeln!(s, "{}", self.send_lag.row("tool send lag"));
        let _ = writeln!(s);
        let proc_row = |name: &str, p: &ProcessCpu| {
            format!(
                "{name:<8} cpu {:>7.2}s ({:>5.1}% of a core){}{}",
                p.cpu_seconds,
                p.cpu_percent_of_core,
                p.cpu_seconds_per_1000_delivered
                    .map(|v| format!(", {v:.4} cpu-s per 1000 delivered"))
                    .unwrap_or_default(),
                p.rss_end_kib
                    .map(|k| format!(", RSS {:.1} MiB at end", k as f64 / 1024.0))
                    .unwrap_or_default(),
            )
        };
        if let Some(server) = &self.server {
            let _ = writeln!(s, "{}", proc_row("server", server));
        }
        if let Some(mem) = &self.server_memory {
            let _ = writeln!(
                s,
                "         RSS {:.1} MiB before connecting, {:.1} MiB after: {:.1} KiB per connection",
                mem.rss_before_connect_kib as f64 / 1024.0,
                mem.rss_after_connect_kib as f64 / 1024.0,
                mem.rss_per_connection_kib
            );
        }
        if let Some(db) = &self.db {
            let _ = writeln!(s, "{}", proc_row("database", db));
            if let Some(counted) = &self.db_counted {
                let _ = writeln!(
                    s,
                    "         {} ({} counted){}",
                    counted.what,
                    counted.processes_or_threads,
                    if counted.inside_server {
                        "; already included in the server's CPU"
                    } else {
                        ""
                    }
                );
            }
        }
        let _ = writeln!(s, "{}", proc_row("tool", &self.tool));
        if let Some(m) = &self.machine_cpu {
            let _ = writeln!(
                s,
                "machine  cpu {:>7.2}s ({:>5.1}% of all {} CPUs busy); other processes {:.2}s",
                m.busy_cpu_seconds, m.busy_percent, self.machine.nproc, m.others_cpu_seconds
            );
        }
        let _ = writeln!(
            s,
            "(CPU from /proc/<pid>/stat utime+stime at {} ticks/s over the measured window)",
            self.clock_ticks_per_second
        );
        if self.validity.valid {
            let _ = writeln!(s, "verdict      VALID: the tool kept up");
        } else {
            let _ = writeln!(
                s,
                "verdict      NOT VALID: {}",
                self.validity.reasons.join("; ")
            );
        }
        for warning in &self.validity.warnings {
            let _ = writeln!(s, "warning      {warning}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(percent: f64) -> ProcessCpu {
        ProcessCpu {
            pid: None,
            cpu_seconds: 0.0,
            cpu_percent_of_core: percent,
            cpu_seconds_per_1000_delivered: None,
            rss_end_kib: None,
        }
    }

    fn lag(p99_ms: f64) -> Percentiles {
        Percentiles {
            count: 100,
            p50_ms: 0.1,
            p90_ms: 0.5,
            p99_ms,
            p999_ms: p99_ms,
            max_ms: p99_ms,
            mean_ms: 0.2,
        }
    }

    #[test]
    fn a_run_where_the_tool_saturated_or_lagged_is_not_valid() {
        let ok = Validity::judge(&cpu(120.0), 2, &lag(2.0), None);
        assert!(ok.valid && ok.reasons.is_empty());
        let saturated = Validity::judge(&cpu(185.0), 2, &lag(2.0), None);
        assert!(!saturated.valid);
        assert!(saturated.reasons[0].contains("bottleneck"));
        let lagging = Validity::judge(&cpu(50.0), 2, &lag(35.0), None);
        assert!(!lagging.valid);
        assert!(lagging.reasons[0].contains("fell behind"));
        let busy = MachineCpu {
            busy_cpu_seconds: 20.0,
            busy_percent: 99.0,
            others_cpu_seconds: 0.1,
        };
        let competed = Validity::judge(&cpu(50.0), 2, &lag(1.0), Some(&busy));
        assert!(competed.valid, "a busy machine alone does not invalidate");
        assert_eq!(competed.warnings.len(), 1);
    }

    #[test]
    fn fate_of_measured_messages() {
        let stats = Stats::new(10, (2, 8));
        stats.set_window(0, u64::MAX);
        for seq in 0..10 {
            stats.on_written(0, seq, 0, 1000);
        }
        stats.on_received(1, 2, 0, 5_000_000);
        stats.on_received(1, 3, 0, 6_000_000);
        stats.on_received(1, 3, 0, 6_000_000);
        stats.on_ack(0, 4, 0, 1000, Some("not-a-contact"));
        stats.on_ack(0, 5, 0, 1000, None);
        let fate = stats.fate();
        assert_eq!(fate.written, 6);
        assert_eq!(fate.received, 2);
        assert_eq!(fate.refused, 1);
        assert_eq!(fate.lost, 3);
        assert_eq!(fate.lost_after_ok_ack, 1);
        assert_eq!(stats.duplicates.load(Relaxed), 1);
        assert_eq!(stats.errors().get("not-a-contact"), Some(&1));
        let h = stats.merged();
        assert_eq!(h.latency.len(), 2);
        assert!((Percentiles::of(&h.latency).max_ms - 6.0).abs() < 0.01);
        // Sequence numbers past the capacity are ignored, not a panic.
        assert_eq!(stats.mark(1_000, bits::WRITTEN), 0);
    }
}
