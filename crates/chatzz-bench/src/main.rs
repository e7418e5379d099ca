//! `chatzz-bench`: a load generator for chatzz. It opens many Socket.IO v4 connections
//! over WebSocket (raw Engine.IO 4 framing, no Socket.IO client library), registers
//! each as a user (`connect-user`), links users in pairs (`add-chat-user`), then sends
//! `send-message` at a fixed offered rate on an open-loop schedule (sends leave on
//! time whether or not earlier ones were acknowledged), spread round-robin over the
//! pairs and alternating direction. Each message's text carries its sequence number
//! and the time its sender wrote it, so the recipient's connection times the
//! `new-message` that reaches it. Extra idle connections only register and answer pings, to load
//! the server with connections that do nothing.
//!
//! It reports offered, sent and delivered messages per second, acks and errors by
//! code, lost messages (written but never delivered within a grace period after the
//! window), send-to-receive and ack latency percentiles (hdrhistogram), how far the
//! tool itself lagged behind its schedule, and its own CPU; given `--server-pid` (and
//! `--db-pid`, `--db-match` or `--db-threads`) also the server's (and database's) CPU
//! seconds per 1000 delivered messages, resident memory, and memory per connection. Progress goes to stderr each
//! second, the table to stdout (with `--json`, the JSON object to stdout and the
//! table to stderr).
//!
//! ```text
//! cargo run --release -p chatzz-bench -- --url http://127.0.0.1:3000 \
//!     --users 400 --pairs 200 --idle 2000 --rate 3000 --duration 20 --server-pid 1234
//! ```

mod client;
mod engineio;
mod proc;
mod protocol;
mod stats;

use std::collections::HashMap;
use std::net::ToSocketAddrs as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{ArgAction, Parser};
use futures_util::StreamExt as _;
use tokio::sync::{mpsc, oneshot};

use crate::client::{Cmd, Ctx, Target};
use crate::proc::Pid;
use crate::stats::{
    ConfigEcho, DbCounted, Machine, MachineCpu, Percentiles, ProcessCpu, Report, ServerMemory,
    Snapshot, Stats, Validity, bits,
};

/// Load generator for chatzz: many Socket.IO users sending one-to-one messages at an
/// open-loop rate.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server base URL (http:// or ws://); Socket.IO is reached at `--path` under it.
    /// Several (comma-separated or repeated) spread the connections over the servers of
    /// a cluster round-robin, so that the two users of a pair sit on different servers.
    #[arg(long, default_value = "http://127.0.0.1:3000", value_delimiter = ',')]
    url: Vec<String>,
    /// Socket.IO path.
    #[arg(long, default_value = "/socket.io/")]
    path: String,
    /// Connected users that send and receive.
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Extra idle connections that only `connect-user` and answer pings.
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// Linked pairs among the users (default: users / 2). Users outside pairs stay
    /// connected and silent.
    #[arg(long)]
    pairs: Option<usize>,
    /// Offered messages per second, open loop, spread over the pairs.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Measured window, seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Load before the measured window, seconds (not measured).
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Longest wait after the window for measured messages still in flight, seconds.
    #[arg(long, default_value_t = 5.0)]
    grace: f64,
    /// Server process id, to report its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Database process id, to report its CPU too (repeatable: the CPU of all is added).
    #[arg(long)]
    db_pid: Vec<u32>,
    /// Count as database every process whose command line contains this text
    /// (repeatable), e.g. `"postgres chatzz_bench "` for the PostgreSQL backends serving
    /// database `chatzz_bench` as user `postgres`, and `": walwriter"`. Processes are
    /// looked up at each reading, so backends that connect during the run count.
    #[arg(long)]
    db_match: Vec<String>,
    /// Count as database the threads of the server whose name starts with this prefix,
    /// e.g. `sqlx-sqlite-wor` for an in-process SQLite (that CPU is then part of the
    /// server's too).
    #[arg(long, requires = "server_pid")]
    db_threads: Option<String>,
    /// Print the report as one JSON object on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
    /// Tokio worker threads (default: the number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Connections set up at once.
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Seconds allowed for one connection's handshake.
    #[arg(long, default_value_t = 15.0)]
    connect_timeout: f64,
    /// Characters of padding appended to every message text.
    #[arg(long, default_value_t = 0)]
    pad: usize,
    /// Send a `clientMessageId` with each message (true or false).
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    client_message_id: bool,
    /// Recipients mark every message they receive read (`message-read`), as a chat
    /// client showing the conversation does: a third write per message for the store.
    #[arg(long)]
    read: bool,
    /// Commands queued per connection before sends are dropped (and counted).
    #[arg(long, default_value_t = 4096)]
    queue: usize,
    /// User id prefix (default: unique per run, so reruns against a durable store do
    /// not meet old users).
    #[arg(long)]
    prefix: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chatzz-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args, threads));
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chatzz-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `http://host:port[/...]` or `ws://...` -> where to connect and the WebSocket URL.
fn target(url: &str, path: &str) -> Result<Target, String> {
    let rest = ["http://", "ws://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
        .ok_or_else(|| {
            format!("--url must start with http:// or ws:// (TLS is not supported): {url}")
        })?;
    let host_port = rest.split('/').next().unwrap_or(rest);
    let with_port = if host_port
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host_port.to_owned()
    } else {
        format!("{host_port}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {with_port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{with_port} resolves to nothing"))?;
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Ok(Target {
        addr,
        ws_url: format!("ws://{host_port}{path}?EIO=4&transport=websocket"),
    })
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// What counts as the database: processes by pid or command line, or threads of the
/// server (an in-process database).
#[derive(Debug, Clone, Default)]
struct DbSpec {
    pids: Vec<u32>,
    matching: Vec<String>,
    threads: Option<(u32, String)>,
}

impl DbSpec {
    fn from_args(args: &Args) -> Self {
        Self {
            pids: args.db_pid.clone(),
            matching: args.db_match.clone(),
            threads: args
                .db_threads
                .clone()
                .and_then(|prefix| Some((args.server_pid?, prefix))),
        }
    }

    fn is_set(&self) -> bool {
        !self.pids.is_empty() || !self.matching.is_empty() || self.threads.is_some()
    }

    /// Inside the server process: its CPU already includes the database's.
    fn in_server(&self) -> bool {
        self.threads.is_some() && self.pids.is_empty() && self.matching.is_empty()
    }

    /// CPU ticks of each process or thread counted as the database, now.
    fn ticks(&self) -> Option<HashMap<u32, u64>> {
        if !self.is_set() {
            return None;
        }
        let mut all: HashMap<u32, u64> = HashMap::new();
        for pid in &self.pids {
            if let Ok(t) = proc::cpu_ticks(Pid::Other(*pid)) {
                all.insert(*pid, t);
            }
        }
        if !self.matching.is_empty()
            && let Ok(found) = proc::matching_processes(&self.matching)
        {
            all.extend(found);
        }
        if let Some((pid, prefix)) = &self.threads
            && let Ok(found) = proc::matching_threads(*pid, prefix)
        {
            all.extend(found);
        }
        Some(all)
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.pids.is_empty() {
            parts.push(format!("pids {:?}", self.pids));
        }
        if !self.matching.is_empty() {
            parts.push(format!("processes matching {:?}", self.matching));
        }
        if let Some((pid, prefix)) = &self.threads {
            parts.push(format!(
                "threads {prefix}* of the server (pid {pid}; part of its CPU)"
            ));
        }
        parts.join(" + ")
    }
}

/// Ticks used between two readings; a process or thread first seen in the later one
/// counts with all its ticks, one gone by then counts not at all.
fn ticks_between(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(id, t1)| t1.saturating_sub(before.get(id).copied().unwrap_or(0)))
        .sum()
}

/// CPU ticks of the server, database and this tool at one instant.
#[derive(Debug, Clone)]
struct CpuMark {
    at: Instant,
    server: Option<u64>,
    db: Option<HashMap<u32, u64>>,
    tool: u64,
    machine: Option<u64>,
}

fn cpu_mark(server: Option<u32>, db: &DbSpec) -> CpuMark {
    CpuMark {
        at: Instant::now(),
        server: server.and_then(|p| proc::cpu_ticks(Pid::Other(p)).ok()),
        db: db.ticks(),
        tool: proc::cpu_ticks(Pid::This).unwrap_or(0),
        machine: proc::machine_busy_ticks().ok(),
    }
}

/// Database ticks between two marks.
fn db_ticks(m0: &CpuMark, m1: &CpuMark) -> Option<u64> {
    Some(ticks_between(m0.db.as_ref()?, m1.db.as_ref()?))
}

async fn run(args: Args, threads: usize) -> Result<(), String> {
    let pairs = args.pairs.unwrap_or(args.users / 2);
    if pairs * 2 > args.users {
        return Err(format!(
            "--pairs {pairs} needs at least {} users",
            pairs * 2
        ));
    }
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        return Err("--rate must be a number >= 0".to_owned());
    }
    if args.rate > 0.0 && pairs == 0 {
        return Err("--rate > 0 needs at least one pair".to_owned());
    }
    if !(args.duration > 0.0 && args.warmup >= 0.0 && args.grace >= 0.0) {
        return Err("--duration must be > 0, --warmup and --grace >= 0".to_owned());
    }
    let targets = args
        .url
        .iter()
        .map(|url| target(url, &args.path))
        .collect::<Result<Vec<_>, _>>()?;
    let connections = args.users + args.idle;
    match proc::raise_open_files_limit() {
        Some(limit) if (connections as u64) + 64 > limit => eprintln!(
            "warning: {connections} connections but only {limit} open files allowed (ulimit -n)"
        ),
        _ => {}
    }
    let clk_tck = proc::clock_ticks_per_second();
    let prefix = args.prefix.clone().unwrap_or_else(|| {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("b{}-{t}-", std::process::id())
    });

    // Which messages exist and which are measured.
    let (capacity, measured) = if args.rate > 0.0 {
        let s0 = (args.warmup * args.rate).ceil() as u64;
        let s1 = ((args.warmup + args.duration) * args.rate).ceil() as u64;
        (s1, (s0, s1))
    } else {
        (0, (0, 0))
    };
    let stats = Arc::new(Stats::new(capacity, measured));
    let users: Vec<String> = (0..args.users).map(|i| format!("{prefix}u{i}")).collect();
    let ctx = Arc::new(Ctx {
        stats: Arc::clone(&stats),
        users,
        pad: args.pad,
        client_message_id: args.client_message_id,
        read: args.read,
    });

    // Connect everyone.
    let setup_start = Instant::now();
    let rss_before = args
        .server_pid
        .and_then(|p| proc::rss_kib(Pid::Other(p)).ok());
    eprintln!(
        "connecting {} users + {} idle to {} ({} at a time)",
        args.users,
        args.idle,
        targets
            .iter()
            .map(|t| t.ws_url.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.connect_concurrency
    );
    let timeout = secs(args.connect_timeout);
    let mut senders: Vec<Option<mpsc::Sender<Cmd>>> = vec![None; args.users];
    let mut connect_failures = 0u64;
    let mut done = 0usize;
    let mut last_print = Instant::now();
    {
        let mut attempts = futures_util::stream::iter(0..connections)
            .map(|i| {
                let target = &targets[i % targets.len()];
                let user = if i < args.users {
                    ctx.users[i].clone()
                } else {
                    format!("{prefix}i{}", i - args.users)
                };
                async move { (i, client::connect(target, i, user, timeout).await) }
            })
            .buffer_unordered(args.connect_concurrency.max(1));
        while let Some((i, result)) = attempts.next().await {
            done += 1;
            match result {
                Ok(conn) => {
                    let rx = if i < args.users {
                        let (tx, rx) = mpsc::channel(args.queue.max(1));
                        senders[i] = Some(tx);
                        Some(rx)
                    } else {
                        None
                    };
                    tokio::spawn(conn.run(rx, Arc::clone(&ctx)));
                }
                Err(e) => {
                    connect_failures += 1;
                    if connect_failures <= 3 {
                        eprintln!("connection {i} failed: {e}");
                    }
                    stats.count_error(&e.label());
                }
            }
            if last_print.elapsed() >= Duration::from_secs(1) {
                last_print = Instant::now();
                eprintln!("  connected {done}/{connections} ({connect_failures} failed)");
            }
        }
    }
    eprintln!(
        "connected {}/{connections} in {:.1}s",
        connections as u64 - connect_failures,
        setup_start.elapsed().as_secs_f64()
    );
    if connect_failures == connections as u64 && connections > 0 {
        return Err("no connection could be set up".to_owned());
    }

    // Link the pairs.
    let pair_results: Vec<Option<(u32, u32)>> = futures_util::stream::iter(0..pairs)
        .map(|p| {
            let (a, b) = (2 * p, 2 * p + 1);
            let sender = senders[a].clone();
            let b_ok = senders[b].is_some();
            async move {
                let (sender, true) = (sender?, b_ok) else {
                    return None;
                };
                let (done, result) = oneshot::channel();
                let other = u32::try_from(b).ok()?;
                sender.send(Cmd::AddChatUser { other, done }).await.ok()?;
                match tokio::time::timeout(Duration::from_secs(30), result).await {
                    Ok(Ok(Ok(()))) => Some((u32::try_from(a).ok()?, other)),
                    _ => None,
                }
            }
        })
        .buffered(args.connect_concurrency.max(1))
        .collect()
        .await;
    let linked: Vec<(u32, u32)> = pair_results.iter().flatten().copied().collect();
    let pair_failures = (pairs - linked.len()) as u64;
    if pair_failures > 0 {
        stats.count_error("setup:add-chat-user");
        eprintln!("{pair_failures} pairs could not be linked");
    }
    if args.rate > 0.0 && linked.is_empty() {
        return Err("no pair could be linked".to_owned());
    }
    // Let the server settle before reading its memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = args
        .server_pid
        .and_then(|p| proc::rss_kib(Pid::Other(p)).ok());
    let setup_seconds = setup_start.elapsed().as_secs_f64();
    eprintln!(
        "linked {} pairs; setup took {setup_seconds:.1}s",
        linked.len()
    );

    // The load.
    let start_ns = stats.now_ns() + 50_000_000;
    let window_start_ns = start_ns + secs(args.warmup).as_nanos() as u64;
    let window_end_ns = window_start_ns + secs(args.duration).as_nanos() as u64;
    stats.set_window(window_start_ns, window_end_ns);
    let epoch = stats.epoch();
    let at = |ns: u64| epoch + Duration::from_nanos(ns);

    let stop = Arc::new(AtomicBool::new(false));
    let scheduler = (args.rate > 0.0).then(|| {
        tokio::spawn(schedule(
            Arc::clone(&stats),
            senders.clone(),
            linked,
            args.rate,
            start_ns,
            Arc::clone(&stop),
        ))
    });
    let db_spec = DbSpec::from_args(&args);
    let progress = tokio::spawn(progress(
        Arc::clone(&stats),
        args.server_pid,
        db_spec.clone(),
        clk_tck,
        start_ns,
        window_start_ns,
        window_end_ns,
    ));

    tokio::time::sleep_until(at(window_start_ns).into()).await;
    let mark0 = cpu_mark(args.server_pid, &db_spec);
    tokio::time::sleep_until(at(window_end_ns).into()).await;
    let mark1 = cpu_mark(args.server_pid, &db_spec);

    // Grace: wait for what is still in flight.
    let grace_start = Instant::now();
    let grace_end = grace_start + secs(args.grace);
    while stats.unresolved_measured() > 0 && Instant::now() < grace_end {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let grace_used = grace_start.elapsed().as_secs_f64();
    stop.store(true, Relaxed);
    progress.abort();
    if let Some(handle) = scheduler {
        let _ = handle.await;
    }

    // The report.
    let window_s = mark1.at.duration_since(mark0.at).as_secs_f64();
    let delivered_in_window = stats.delivered_in_window.load(Relaxed);
    let fate = stats.fate();
    let process_cpu = |pid: Option<u32>, t0: u64, t1: u64, rss: Option<u64>| {
        let cpu = t1.saturating_sub(t0) as f64 / clk_tck as f64;
        ProcessCpu {
            pid,
            cpu_seconds: cpu,
            cpu_percent_of_core: if window_s > 0.0 {
                cpu / window_s * 100.0
            } else {
                0.0
            },
            cpu_seconds_per_1000_delivered: (delivered_in_window > 0)
                .then(|| cpu / delivered_in_window as f64 * 1000.0),
            rss_end_kib: rss,
        }
    };
    let rss_of = |pid: Option<u32>| pid.and_then(|p| proc::rss_kib(Pid::Other(p)).ok());
    let server = match (mark0.server, mark1.server) {
        (Some(t0), Some(t1)) => Some(process_cpu(
            args.server_pid,
            t0,
            t1,
            rss_of(args.server_pid),
        )),
        _ => None,
    };
    let db = db_ticks(&mark0, &mark1).map(|ticks| {
        let single = match (&args.db_pid[..], &db_spec.matching[..], &db_spec.threads) {
            ([pid], [], None) => Some(*pid),
            _ => None,
        };
        process_cpu(single, 0, ticks, rss_of(single))
    });
    let db_counted = db.as_ref().map(|_| DbCounted {
        what: db_spec.describe(),
        processes_or_threads: mark1.db.as_ref().map_or(0, HashMap::len),
        inside_server: db_spec.in_server(),
    });
    let tool = process_cpu(None, mark0.tool, mark1.tool, proc::rss_kib(Pid::This).ok());
    let nproc = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let machine_cpu = match (mark0.machine, mark1.machine) {
        (Some(t0), Some(t1)) if window_s > 0.0 => {
            let busy = t1.saturating_sub(t0) as f64 / clk_tck as f64;
            let ours = server.as_ref().map_or(0.0, |p| p.cpu_seconds)
                + db.as_ref()
                    .filter(|_| !db_spec.in_server())
                    .map_or(0.0, |p| p.cpu_seconds)
                + tool.cpu_seconds;
            Some(MachineCpu {
                busy_cpu_seconds: busy,
                busy_percent: busy / (window_s * nproc as f64) * 100.0,
                others_cpu_seconds: (busy - ours).max(0.0),
            })
        }
        _ => None,
    };
    let ok_connections = connections as u64 - connect_failures;
    let server_memory = match (rss_before, rss_after) {
        (Some(before), Some(after)) => Some(ServerMemory {
            rss_before_connect_kib: before,
            rss_after_connect_kib: after,
            rss_per_connection_kib: if ok_connections > 0 {
                (after as f64 - before as f64) / ok_connections as f64
            } else {
                0.0
            },
        }),
        _ => None,
    };
    let hists = stats.merged();
    let measured_count = measured.1 - measured.0;
    let send_lag = Percentiles::of(&hists.lag);
    let validity = Validity::judge(&tool, threads, &send_lag, machine_cpu.as_ref());
    let report = Report {
        machine: Machine {
            nproc,
            cpu_model: proc::cpu_model(),
        },
        config: ConfigEcho {
            url: args.url.join(","),
            users: args.users,
            idle: args.idle,
            pairs,
            rate: args.rate,
            duration_s: args.duration,
            warmup_s: args.warmup,
            threads,
            pad: args.pad,
            client_message_id: args.client_message_id,
            read: args.read,
        },
        connections: ok_connections,
        connect_failures,
        pair_failures,
        setup_seconds,
        offered_per_s: measured_count as f64 / args.duration,
        sent_per_s: fate.written as f64 / args.duration,
        delivered_per_s: if window_s > 0.0 {
            delivered_in_window as f64 / window_s
        } else {
            0.0
        },
        acks_ok: stats.acks_ok.load(Relaxed),
        acks_err: stats.acks_err.load(Relaxed),
        reads: args
            .read
            .then(|| (stats.reads_ok.load(Relaxed), stats.reads_err.load(Relaxed))),
        errors_by_code: stats.errors(),
        measured: fate,
        duplicates: stats.duplicates.load(Relaxed),
        foreign_messages: stats.foreign.load(Relaxed),
        decode_errors: stats.decode_errors.load(Relaxed),
        client_dropped: stats.client_dropped.load(Relaxed),
        write_failed: stats.write_failed.load(Relaxed),
        disconnects: stats.disconnects.load(Relaxed),
        grace_seconds_used: grace_used,
        latency: Percentiles::of(&hists.latency),
        ack_latency: Percentiles::of(&hists.ack),
        send_lag,
        tool,
        server,
        server_memory,
        db,
        db_counted,
        validity,
        machine_cpu,
        clock_ticks_per_second: clk_tck,
    };
    if args.json {
        eprint!("{}", report.table());
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => return Err(format!("cannot write JSON: {e}")),
        }
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// The open-loop schedule: message `seq` is due at `start_ns + seq / rate`. Every
/// millisecond (tokio's timer resolution) the messages that have come due are handed
/// to their senders' connections, whatever happened to earlier ones; a batch per tick
/// costs far fewer thread wake-ups than a sleep per message. Pair `seq % pairs`
/// carries message `seq`, in the direction that alternates with each round.
async fn schedule(
    stats: Arc<Stats>,
    senders: Vec<Option<mpsc::Sender<Cmd>>>,
    pairs: Vec<(u32, u32)>,
    rate: f64,
    start_ns: u64,
    stop: Arc<AtomicBool>,
) {
    let total = stats.capacity();
    let n_pairs = pairs.len() as u64;
    let period_ns = 1e9 / rate;
    let intended = |seq: u64| start_ns + (seq as f64 * period_ns) as u64;
    let epoch = stats.epoch();
    tokio::time::sleep_until((epoch + Duration::from_nanos(start_ns)).into()).await;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u64;
    while seq < total && !stop.load(Relaxed) {
        ticker.tick().await;
        let now = stats.now_ns();
        while seq < total {
            let due = intended(seq);
            if due > now {
                break;
            }
            let round = seq / n_pairs;
            let Some(&(a, b)) = usize::try_from(seq % n_pairs)
                .ok()
                .and_then(|i| pairs.get(i))
            else {
                break;
            };
            let (from, to) = if round.is_multiple_of(2) {
                (a, b)
            } else {
                (b, a)
            };
            stats.scheduled.fetch_add(1, Relaxed);
            let cmd = Cmd::Send {
                to,
                seq,
                intended_ns: due,
            };
            let queued = senders
                .get(from as usize)
                .and_then(Option::as_ref)
                .is_some_and(|tx| tx.try_send(cmd).is_ok());
            if !queued {
                stats.client_dropped.fetch_add(1, Relaxed);
                stats.mark(seq, bits::DROPPED);
            }
            seq += 1;
        }
    }
}

/// One line on stderr each second.
async fn progress(
    stats: Arc<Stats>,
    server: Option<u32>,
    db: DbSpec,
    clk_tck: u64,
    start_ns: u64,
    window_start_ns: u64,
    window_end_ns: u64,
) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut prev = stats.snapshot();
    let mut prev_cpu = cpu_mark(server, &db);
    // Busy ticks of the machine not spent in the server, database or tool.
    let others = |m0: &CpuMark, m1: &CpuMark| {
        let db_ticks = if db.in_server() {
            0
        } else {
            db_ticks(m0, m1).unwrap_or(0)
        };
        let ours = m1
            .server
            .unwrap_or(0)
            .saturating_sub(m0.server.unwrap_or(0))
            + db_ticks
            + m1.tool.saturating_sub(m0.tool);
        m1.machine
            .zip(m0.machine)
            .map(|(b1, b0)| b1.saturating_sub(b0).saturating_sub(ours))
    };
    loop {
        ticker.tick().await;
        let now = stats.snapshot();
        let cpu = cpu_mark(server, &db);
        let dt = cpu.at.duration_since(prev_cpu.at).as_secs_f64().max(1e-9);
        let rate = |a: u64, b: u64| (a.saturating_sub(b)) as f64 / dt;
        let pct = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => format!(
                "{:.0}%",
                a.saturating_sub(b) as f64 / clk_tck as f64 / dt * 100.0
            ),
            _ => "-".to_owned(),
        };
        let t_ns = stats.now_ns();
        let phase = if t_ns < window_start_ns {
            "warmup"
        } else if t_ns < window_end_ns {
            "measure"
        } else {
            "grace"
        };
        let Snapshot {
            scheduled,
            written,
            delivered,
            acks,
            errors,
            disconnects,
        } = now;
        eprintln!(
            "[{:>6.1}s {phase:<7}] offered {:>7.0}/s sent {:>7.0}/s delivered {:>7.0}/s acks {:>7.0}/s | in flight {:>6} errors {} disconnects {} | cpu server {} db {} tool {} others {}",
            t_ns.saturating_sub(start_ns) as f64 / 1e9,
            rate(scheduled, prev.scheduled),
            rate(written, prev.written),
            rate(delivered, prev.delivered),
            rate(acks, prev.acks),
            written.saturating_sub(delivered + stats.acks_err.load(Relaxed)),
            errors,
            disconnects,
            pct(cpu.server, prev_cpu.server),
            pct(db_ticks(&prev_cpu, &cpu), Some(0)),
            pct(Some(cpu.tool), Some(prev_cpu.tool)),
            pct(others(&prev_cpu, &cpu), Some(0)),
        );
        prev = now;
        prev_cpu = cpu;
    }
}

#[cfg(test)]
mod tests;
