use std::time::Duration;

use chatzz_core::{Config, Rate, RatedEvent};

use super::*;

#[test]
fn the_defaults_follow_every_rule() {
    assert_eq!(Settings::default().validate(), Ok(()));
}

#[test]
fn the_use_cases_limits_are_the_cores_own() {
    assert_eq!(Settings::default().config, Config::default());
    assert_eq!(Settings::default().table_prefix, "chatzz_");
}

/// Each rule, broken on its own, gives its own error.
#[test]
fn each_rule_has_its_error() {
    type Change = fn(&mut Settings);
    let cases: Vec<(&str, Change, SettingsError)> = vec![
        (
            "no message text",
            |s| s.config.max_message_chars = 0,
            SettingsError::MaxMessageChars(0),
        ),
        (
            "too long a message",
            |s| s.config.max_message_chars = 1_000_001,
            SettingsError::MaxMessageChars(1_000_001),
        ),
        (
            "no socket",
            |s| s.config.max_sockets_per_user = 0,
            SettingsError::MaxSocketsPerUser,
        ),
        (
            "a negative rate",
            |s| {
                s.config.set_rate(
                    RatedEvent::AddChatUser,
                    Rate {
                        per_second: -1.0,
                        burst: 5.0,
                    },
                )
            },
            SettingsError::Rate {
                event: RatedEvent::AddChatUser,
                per_second: -1.0,
                burst: 5.0,
            },
        ),
        (
            "no burst",
            |s| {
                s.config.send_rate = Rate {
                    per_second: 1.0,
                    burst: 0.0,
                }
            },
            SettingsError::Rate {
                event: RatedEvent::SendMessage,
                per_second: 1.0,
                burst: 0.0,
            },
        ),
        (
            "a default page above the largest",
            |s| s.config.default_history_limit = s.config.max_history_limit + 1,
            SettingsError::HistoryLimit {
                default: 501,
                max: 500,
            },
        ),
        (
            "an empty default page",
            |s| s.config.default_history_limit = 0,
            SettingsError::HistoryLimit {
                default: 0,
                max: 500,
            },
        ),
        (
            "no queued event",
            |s| s.transport.max_queued_events = 0,
            SettingsError::MaxQueuedEvents,
        ),
        (
            "a small outbound budget",
            |s| s.transport.max_outbound_bytes = 1000,
            SettingsError::MaxOutboundBytes(1000),
        ),
        (
            "a small packet",
            |s| s.socketio.max_packet_bytes = Some(1023),
            SettingsError::MaxPacketBytes(1023),
        ),
        (
            "no packet per polling response",
            |s| s.socketio.max_polling_packets = 0,
            SettingsError::MaxPollingPackets,
        ),
        (
            "no ping interval",
            |s| s.socketio.ping_interval = Duration::ZERO,
            SettingsError::ZeroDuration("ping_interval"),
        ),
        (
            "no ping timeout",
            |s| s.socketio.ping_timeout = Duration::ZERO,
            SettingsError::ZeroDuration("ping_timeout"),
        ),
        (
            "no connect timeout",
            |s| s.socketio.connect_timeout = Duration::ZERO,
            SettingsError::ZeroDuration("connect_timeout"),
        ),
        (
            "no store timeout",
            |s| s.store_timeout = Duration::ZERO,
            SettingsError::ZeroDuration("store_timeout"),
        ),
        (
            "an empty cache",
            |s| {
                s.details_cache = Some(DetailsCache {
                    capacity: 0,
                    ttl: Duration::from_secs(1),
                })
            },
            SettingsError::DetailsCacheCapacity,
        ),
        (
            "a cache that forgets at once",
            |s| {
                s.details_cache = Some(DetailsCache {
                    capacity: 1,
                    ttl: Duration::ZERO,
                })
            },
            SettingsError::ZeroDuration("details_cache ttl"),
        ),
        (
            "a short lease in a cluster",
            |s| {
                s.cluster.redis_url = Some("redis://h".into());
                s.cluster.presence_lease = Duration::from_millis(299);
            },
            SettingsError::PresenceLease(Duration::from_millis(299)),
        ),
        (
            "no cluster prefix in a cluster",
            |s| {
                s.cluster.redis_url = Some("redis://h".into());
                s.cluster.prefix.clear();
            },
            SettingsError::ClusterPrefix,
        ),
    ];
    for (what, change, expected) in cases {
        let mut settings = Settings::default();
        change(&mut settings);
        assert_eq!(settings.validate(), Err(expected), "{what}");
    }
}

#[test]
fn a_table_prefix_is_checked_by_store_names() {
    let settings = Settings {
        table_prefix: "1drop table".into(),
        ..Settings::default()
    };
    let err = settings.validate().err();
    assert!(
        matches!(&err, Some(SettingsError::TablePrefix { prefix, reason })
            if prefix == "1drop table" && reason.contains("1 to 40")),
        "{err:?}"
    );
}

#[test]
fn errors_name_their_setting() {
    let settings = Settings {
        store_timeout: Duration::ZERO,
        ..Settings::default()
    };
    let text = settings.validate().err().map(|e| e.to_string());
    assert_eq!(text.as_deref(), Some("store_timeout must be longer than 0"));
}

#[test]
fn unlimited_rates_are_valid() {
    let mut settings = Settings::default();
    for event in RatedEvent::ALL {
        settings.config.set_rate(event, Rate::new(0.0, 0));
    }
    assert_eq!(settings.validate(), Ok(()));
}

#[test]
fn cluster_rules_apply_only_in_a_cluster() {
    let mut settings = Settings::default();
    settings.cluster.presence_lease = Duration::from_millis(1);
    settings.cluster.prefix.clear();
    assert_eq!(settings.validate(), Ok(()));
}

#[test]
fn the_default_packet_fits_one_longest_message() {
    let mut settings = Settings::default();
    assert_eq!(settings.max_packet_bytes(), 64 * 1024);
    settings.config.max_message_chars = 100_000;
    assert_eq!(settings.max_packet_bytes(), 600_000 + 4096);
    settings.socketio.max_packet_bytes = Some(2048);
    assert_eq!(settings.max_packet_bytes(), 2048);
}

#[test]
fn a_cluster_refuses_a_store_of_its_own() {
    let memory = chatzz_store_memory::MemoryStore::new();
    let mut settings = Settings::default();
    assert_eq!(settings.check_store(&memory), Ok(()), "alone, any store");
    settings.cluster.redis_url = Some("redis://h".into());
    assert_eq!(
        settings.check_store(&memory),
        Err(SettingsError::UnsharedStore)
    );
    let mut shared = chatzz_core::ports::MockChatStore::new();
    shared.expect_is_shared().return_const(true);
    assert_eq!(settings.check_store(&shared), Ok(()));
}

#[test]
fn the_redis_password_stays_out_of_debug() {
    let cluster = Cluster {
        redis_url: Some("redis://u:hunter2@h/0".into()),
        ..Cluster::default()
    };
    let text = format!("{cluster:?}");
    assert!(!text.contains("hunter2"), "{text}");
}

// --- docs/security.md's limits table against the real defaults ---

/// The rows of the "Limits and defaults" table: limit, default.
fn documented_defaults() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md");
    let text = std::fs::read_to_string(path).unwrap();
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Limits and defaults"))
        .unwrap();
    section
        .lines()
        .filter(|line| line.starts_with('|'))
        .skip(2) // the header and its rule
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[2].to_owned())
        })
        .collect()
}

fn bytes(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

fn time(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// A span of whole hours as hours, else as `time` says.
fn span(d: Duration) -> String {
    if d.as_secs().is_multiple_of(3600) && d.subsec_nanos() == 0 && !d.is_zero() {
        format!("{} h", d.as_secs() / 3600)
    } else {
        time(d)
    }
}

fn rate(rate: Rate) -> String {
    format!("{}/s, burst {}", rate.per_second, rate.burst)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the table's default column must say, row by row, from `Settings::default()`.
fn expected_defaults() -> Vec<(&'static str, String)> {
    let s = Settings::default();
    let retries = chatzz_core::notification::RetryPolicy::default();
    assert_eq!(
        chatzz_core::typing::MAX_ROOMS,
        chatzz_core::typing::MAX_BLOCKS,
        "docs/security.md states one bound for both"
    );
    let c = &s.config;
    let cache = s.details_cache.unwrap_or_default();
    vec![
        (
            "message length",
            format!("{} code points", c.max_message_chars),
        ),
        (
            "client packet (WebSocket message and frame, polling body)",
            format!(
                "{PACKET_BYTES_PER_CHAR} × max chars + {}, at least {}",
                bytes(PACKET_OVERHEAD_BYTES),
                bytes(MIN_DEFAULT_PACKET_BYTES)
            ),
        ),
        (
            "`send-message`, `edit-message`, `delete-message` per user (one rate for the three)",
            rate(c.send_rate),
        ),
        (
            "`connect-user`, `get-contacts` per user (one rate for both)",
            rate(c.connect_user_rate),
        ),
        ("`add-chat-user` per user", rate(c.add_chat_user_rate)),
        ("`get-old-messages` per user", rate(c.get_old_messages_rate)),
        ("`message-read` per user", rate(c.message_read_rate)),
        ("`typing` per user", rate(c.typing_rate)),
        (
            "typing state per server (who said \"typing\" to whom in the last 6 s, for the automatic `typing: false`)",
            format!(
                "{} pairs;",
                thousands(chatzz_core::typing::MAX_TYPISTS as u64)
            ),
        ),
        (
            "rooms and blocks of pairs per server (so typing asks no store)",
            format!(
                "{} pairs each;",
                thousands(
                    chatzz_core::typing::MAX_ROOMS.min(chatzz_core::typing::MAX_BLOCKS) as u64
                )
            ),
        ),
        (
            "notifications in flight per server",
            crate::builder::NOTIFICATION_BATCH.to_string(),
        ),
        (
            "webhook attempt",
            format!(
                "{}, then retried with backoff from {} to {}, for {}",
                time(crate::notifications::WEBHOOK_TIMEOUT),
                time(retries.first),
                time(retries.cap),
                span(retries.give_up_after)
            ),
        ),
        ("live sockets per user", c.max_sockets_per_user.to_string()),
        (
            "editing a message (`edit-message`)",
            format!("within {} of sending it", span(c.edit_window)),
        ),
        (
            "history page",
            format!(
                "{} default, {} max, and at most {} of JSON",
                c.default_history_limit,
                c.max_history_limit,
                bytes(c.max_reply_bytes)
            ),
        ),
        (
            "missed messages in `user-details`",
            format!(
                "{} per sender, {} in all, at most {} of JSON",
                c.missed_messages_per_sender,
                c.missed_messages_total,
                bytes(c.max_reply_bytes)
            ),
        ),
        (
            "outbound budget: large replies (history pages, `user-details`, `get-contacts`) queued to one connection",
            format!(
                "{0} at once, refilled at {0} per 10 s",
                bytes(s.transport.max_outbound_bytes)
            ),
        ),
        (
            "heartbeat",
            format!(
                "ping every {}, {} to answer",
                time(s.socketio.ping_interval),
                time(s.socketio.ping_timeout)
            ),
        ),
        (
            "polling session without a GET waiting or finished",
            format!(
                "its POSTs refused after the ping timeout ({})",
                time(s.socketio.ping_timeout)
            ),
        ),
        (
            "packets in one long-polling response",
            s.socketio.max_polling_packets.to_string(),
        ),
        (
            "transport open without joining",
            time(s.socketio.connect_timeout),
        ),
        (
            "one store call",
            format!("{}, then `unavailable`", time(s.store_timeout)),
        ),
        (
            "events queued to one socket",
            format!("{SOCKET_BUFFER_PACKETS} packets"),
        ),
        (
            "client events waiting on one socket",
            s.transport.max_queued_events.to_string(),
        ),
        (
            "user details cache",
            format!("{} users, {}", thousands(cache.capacity), time(cache.ttl)),
        ),
    ]
}

/// Rows whose defaults are not chatzz's settings: the binary's listener (tested in
/// `chatzz-server`), fixed behaviour, and the authenticator's.
const NOT_SETTINGS: &[&str] = &[
    "binary attachments",
    "slow consumer: a connection whose writes stay blocked (pauses under 1 s)",
    "request headers (slowloris)",
    "JWT clock leeway at the handshake",
    "JWT issuer, audience",
    "HS256 secret",
];

#[test]
fn the_security_docs_state_the_real_defaults() {
    let documented = documented_defaults();
    let mut wrong = Vec::new();
    for (limit, expected) in expected_defaults() {
        match documented.iter().find(|(row, _)| row == limit) {
            None => wrong.push(format!("no row {limit:?} in docs/security.md")),
            // A default may go on with an explanation: "20 (at `connect-user`, ...)".
            Some((_, cell)) if *cell == expected || cell.starts_with(&format!("{expected} ")) => {}
            Some((_, cell)) => wrong.push(format!("{limit}: docs say {cell:?}, code {expected:?}")),
        }
    }
    let known: Vec<&str> = expected_defaults().iter().map(|(row, _)| *row).collect();
    for (row, _) in &documented {
        if !known.contains(&row.as_str()) && !NOT_SETTINGS.contains(&row.as_str()) {
            wrong.push(format!(
                "row {row:?} of docs/security.md is not checked against the code"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn number_formats() {
    assert_eq!(thousands(10_000), "10,000");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1_000_000), "1,000,000");
    assert_eq!(bytes(4 * 1024 * 1024), "4 MiB");
    assert_eq!(bytes(64 * 1024), "64 KiB");
    assert_eq!(time(Duration::from_millis(300)), "300 ms");
    assert_eq!(span(Duration::from_secs(48 * 3600)), "48 h");
    assert_eq!(span(Duration::from_secs(90)), "90 s");
}
