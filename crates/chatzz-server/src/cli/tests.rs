use std::time::Duration;

use chatzz::{Rate, Settings, SettingsError};
use clap::{CommandFactory, Parser};

use super::Args;
use crate::app::ServerSettings;

fn parse(flags: &[&str]) -> Args {
    Args::try_parse_from(std::iter::once("chatzz").chain(flags.iter().copied())).unwrap()
}

#[test]
fn without_flags_the_settings_are_the_defaults() {
    let args = parse(&[]);
    assert_eq!(args.settings(), Settings::default());
    assert_eq!(args.server_settings(), ServerSettings::default());
    assert_eq!(args.settings().validate(), Ok(()));
    assert_eq!(args.server_settings().validate(), Ok(()));
}

#[test]
fn flags_write_into_the_settings() {
    let args = parse(&[
        "--max-message-chars",
        "10",
        "--send-rate",
        "0",
        "--read-rate",
        "3",
        "--read-burst",
        "4",
        "--max-packet-bytes",
        "2048",
        "--ping-interval",
        "1",
        "--store-timeout",
        "2",
        "--table-prefix",
        "app_",
        "--redis",
        "redis://h",
        "--presence-lease",
        "5",
        "--header-read-timeout",
        "6",
        "--edit-window",
        "60",
        "--max-polling-packets",
        "32",
    ]);
    let settings = args.settings();
    assert_eq!(settings.config.max_message_chars, 10);
    assert_eq!(settings.config.send_rate, Rate::UNLIMITED);
    assert_eq!(settings.config.message_read_rate, Rate::new(3.0, 4));
    assert_eq!(settings.socketio.max_packet_bytes, Some(2048));
    assert_eq!(settings.socketio.ping_interval, Duration::from_secs(1));
    assert_eq!(settings.store_timeout, Duration::from_secs(2));
    assert_eq!(settings.table_prefix, "app_");
    assert_eq!(settings.cluster.redis_url.as_deref(), Some("redis://h"));
    assert_eq!(settings.cluster.presence_lease, Duration::from_secs(5));
    assert_eq!(settings.config.edit_window, Duration::from_secs(60));
    assert_eq!(settings.socketio.max_polling_packets, 32);
    assert_eq!(
        args.server_settings().header_read_timeout,
        Duration::from_secs(6)
    );
}

#[test]
fn the_rules_are_the_libraries_not_the_flags() {
    let settings = parse(&["--max-message-chars", "0"]).settings();
    assert_eq!(settings.validate(), Err(SettingsError::MaxMessageChars(0)));
    let settings = parse(&["--max-packet-bytes", "1000"]).settings();
    assert_eq!(
        settings.validate(),
        Err(SettingsError::MaxPacketBytes(1000))
    );
    let settings = parse(&["--max-polling-packets", "0"]).settings();
    assert_eq!(settings.validate(), Err(SettingsError::MaxPollingPackets));
    let server = parse(&["--slow-consumer-timeout", "0"]).server_settings();
    assert_eq!(
        server.validate(),
        Err(SettingsError::ZeroDuration("slow_consumer_timeout"))
    );
}

/// The rows of the markdown table in `doc` that follows the line starting with
/// `heading`, as cells.
fn table(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let path = format!("{}/../../{doc}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find(heading).unwrap();
    text[start..]
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            line.split('|')
                .map(|cell| cell.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn the_readme_states_the_flags_real_defaults() {
    // Built, so that switches have their implicit default (`false`).
    let mut command = Args::command();
    command.build();
    let mut wrong = Vec::new();
    for row in table("README.md", "| flag | env | default |") {
        let (flag, env, documented) = (&row[1], &row[2], &row[3]);
        let Some(arg) = command
            .get_arguments()
            .find(|arg| arg.get_long().map(|long| format!("--{long}")).as_ref() == Some(flag))
        else {
            wrong.push(format!("{flag}: no such flag"));
            continue;
        };
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        let real = match defaults.as_slice() {
            [] => "none".to_owned(),
            [value] if value == "false" => "off".to_owned(),
            [value] => value.clone(),
            _ => defaults.join(","),
        };
        if &real != documented {
            wrong.push(format!("{flag}: README says {documented:?}, code {real:?}"));
        }
        let real_env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        if real_env.as_ref() != Some(env) {
            wrong.push(format!("{flag}: README says env {env}, code {real_env:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_security_docs_state_the_listeners_defaults_and_name_real_flags() {
    let server = ServerSettings::default();
    let rows = table(
        "docs/security.md",
        "| limit | default | builder | binary flag |",
    );
    let default_of = |limit: &str| {
        rows.iter()
            .find(|row| row[1] == limit)
            .map(|row| row[2].clone())
    };
    assert_eq!(
        default_of("request headers (slowloris)"),
        Some(format!("{} s", server.header_read_timeout.as_secs()))
    );
    assert_eq!(
        default_of("slow consumer: a connection whose writes stay blocked (pauses under 1 s)"),
        Some(format!(
            "cut after {} s",
            server.slow_consumer_timeout.as_secs()
        ))
    );
    let command = Args::command();
    let longs: Vec<&str> = command
        .get_arguments()
        .filter_map(|a| a.get_long())
        .collect();
    let mut unknown = Vec::new();
    for row in &rows {
        for flag in row[4].split(|c: char| c == '`' || c == ',' || c.is_whitespace()) {
            if let Some(long) = flag.strip_prefix("--")
                && !longs.contains(&long)
            {
                unknown.push(flag.to_owned());
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "docs/security.md names no such flags: {unknown:?}"
    );
}

#[test]
fn max_polling_packets_from_the_flag_or_the_environment() {
    assert_eq!(parse(&[]).settings().socketio.max_polling_packets, 16);
    let args = parse(&["--max-polling-packets", "100"]);
    assert_eq!(args.settings().socketio.max_polling_packets, 100);
    assert!(Args::try_parse_from(["chatzz", "--max-polling-packets", "-1"]).is_err());
    let env = Args::command()
        .get_arguments()
        .find(|a| a.get_long() == Some("max-polling-packets"))
        .and_then(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned());
    assert_eq!(env.as_deref(), Some("CHATZZ_MAX_POLLING_PACKETS"));
}
