use std::time::Duration;

use chatzz_core::{Rate, RatedEvent};
use chatzz_store_memory::MemoryStore;

use super::*;
use crate::settings::{DetailsCache, Settings, SettingsError};

#[test]
fn the_builder_methods_write_into_the_settings() {
    let builder = Chatzz::builder()
        .max_message_chars(10)
        .send_rate(3.0, 7)
        .event_rate(RatedEvent::MessageRead, 0.0, 1)
        .max_sockets_per_user(2)
        .edit_window(Duration::from_secs(60))
        .max_queued_events(5)
        .max_outbound_bytes(70_000)
        .max_packet_bytes(2048)
        .ping(Duration::from_secs(1), Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(3))
        .store_timeout(Duration::from_secs(4))
        .table_prefix("app_")
        .cache_details(None)
        .redis("redis://h")
        .presence_lease(Duration::from_secs(5))
        .cluster_prefix("c");
    let mut expected = Settings::default();
    expected.config.max_message_chars = 10;
    expected.config.send_rate = Rate::new(3.0, 7);
    expected.config.message_read_rate = Rate::UNLIMITED;
    expected.config.max_sockets_per_user = 2;
    expected.config.edit_window = Duration::from_secs(60);
    expected.transport.max_queued_events = 5;
    expected.transport.max_outbound_bytes = 70_000;
    expected.socketio.max_packet_bytes = Some(2048);
    expected.socketio.ping_interval = Duration::from_secs(1);
    expected.socketio.ping_timeout = Duration::from_secs(2);
    expected.socketio.connect_timeout = Duration::from_secs(3);
    expected.store_timeout = Duration::from_secs(4);
    expected.table_prefix = "app_".into();
    expected.details_cache = None;
    expected.cluster.redis_url = Some("redis://h".into());
    expected.cluster.presence_lease = Duration::from_secs(5);
    expected.cluster.prefix = "c".into();
    assert_eq!(builder.current_settings(), &expected);
}

#[test]
#[allow(deprecated)]
fn the_tuple_details_cache_still_works() {
    let builder = Chatzz::builder().details_cache(Some((5, Duration::from_secs(2))));
    assert_eq!(
        builder.current_settings().details_cache,
        Some(DetailsCache {
            capacity: 5,
            ttl: Duration::from_secs(2)
        })
    );
}

#[test]
fn settings_replace_and_later_calls_change_them() {
    let settings = Settings {
        store_timeout: Duration::from_secs(1),
        ..Settings::default()
    };
    let builder = Chatzz::builder()
        .max_message_chars(10)
        .settings(settings)
        .max_sockets_per_user(3);
    assert_eq!(builder.current_settings().config.max_message_chars, 4096);
    assert_eq!(
        builder.current_settings().store_timeout,
        Duration::from_secs(1)
    );
    assert_eq!(builder.current_settings().config.max_sockets_per_user, 3);
}

fn settings_error(built: Result<(ChatzzLayer, ChatzzHandle), BuildError>) -> Option<SettingsError> {
    match built {
        Err(BuildError::Settings(err)) => Some(err),
        _ => None,
    }
}

#[tokio::test]
async fn a_bad_setting_fails_before_the_store_is_opened() {
    let built = Chatzz::builder()
        .store_url("nosuch://x")
        .trust_client_user_ids()
        .store_timeout(Duration::ZERO)
        .build()
        .await;
    assert_eq!(
        settings_error(built),
        Some(SettingsError::ZeroDuration("store_timeout"))
    );
}

#[tokio::test]
async fn a_cluster_refuses_a_memory_store_instance() {
    let built = Chatzz::builder()
        .store(MemoryStore::new())
        .trust_client_user_ids()
        .redis("redis://127.0.0.1:1")
        .build()
        .await;
    assert_eq!(settings_error(built), Some(SettingsError::UnsharedStore));
}

#[tokio::test]
async fn a_cluster_refuses_the_memory_url() {
    let built = Chatzz::builder()
        .store_url("memory:")
        .trust_client_user_ids()
        .redis("redis://127.0.0.1:1")
        .build()
        .await;
    let err = built.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        err.starts_with("bad configuration: a cluster needs a store its servers share"),
        "{err}"
    );
}

#[tokio::test]
async fn a_cluster_takes_a_shared_store() {
    let mut shared = chatzz_core::ports::MockChatStore::new();
    shared.expect_is_shared().return_const(true);
    let built = Chatzz::builder()
        .store(shared)
        .trust_client_user_ids()
        .redis("redis://127.0.0.1:1")
        .build()
        .await;
    // Past the store check: Redis is unreachable, or not compiled in.
    assert!(
        matches!(
            built,
            Err(BuildError::Redis(_) | BuildError::NotCompiled { .. })
        ),
        "{:?}",
        built.err()
    );
}

#[tokio::test]
async fn alone_a_memory_store_is_fine() {
    let built = Chatzz::builder()
        .store(MemoryStore::new())
        .trust_client_user_ids()
        .build()
        .await;
    assert!(built.is_ok(), "{:?}", built.err());
}
