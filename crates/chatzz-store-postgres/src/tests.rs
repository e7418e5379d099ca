//! Tests against a real PostgreSQL server (`CHATZZ_TEST_POSTGRES_URL`, by default the
//! local one): each test gets a database of its own, dropped when the test ends, and a
//! run first drops what killed runs left behind. An unreachable server fails the tests.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chatzz_core::{
    ChatRoomId, ChatStore, ChatUser, ContactRecord, HistoryQuery, Inserted, LinkOutcome, MessageId,
    MessageText, NewMessage, StoreError, StoreNames, StoredMessage, Timestamp, UserId, sequence,
};
use chatzz_store_sql::testing::{everything, linked_at, message, row_id, user};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor};

use super::{PostgresStore, retryable, store_error};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Names of the databases these tests create: `<prefix><pid>_<unix nanos>_<n>`.
const DB_PREFIX: &str = "chatzz_pgtest_";

/// A leftover database older than this is dropped even if its process seems alive.
const STALE_AFTER: Duration = Duration::from_secs(6 * 60 * 60);

fn admin_url() -> String {
    std::env::var("CHATZZ_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

async fn admin() -> PgConnection {
    let options: PgConnectOptions = admin_url()
        .parse()
        .unwrap_or_else(|e| panic!("bad CHATZZ_TEST_POSTGRES_URL: {e}"));
    PgConnection::connect_with(&options)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {}:{} is unreachable (set CHATZZ_TEST_POSTGRES_URL): {e}",
                options.get_host(),
                options.get_port()
            )
        })
}

/// `url` pointing at database `db` instead, query string kept.
fn database_url(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    format!("{base}/{db}{query}")
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Whether `name` is a database of a run that is over: its process is gone, or it is old.
fn is_leftover(name: &str, now_nanos: u128) -> bool {
    let mut parts = name.strip_prefix(DB_PREFIX).unwrap_or_default().split('_');
    let (Some(Ok(pid)), Some(Ok(nanos))) = (
        parts.next().map(str::parse::<u32>),
        parts.next().map(str::parse::<u128>),
    ) else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    let proc_fs = Path::new("/proc");
    let gone = proc_fs.join("self").exists() && !proc_fs.join(pid.to_string()).exists();
    gone || now_nanos.saturating_sub(nanos) > STALE_AFTER.as_nanos()
}

async fn drop_database(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    conn.execute(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .await
    .map(drop)
}

/// Once per test process: drops the databases of runs that were killed before cleaning up.
async fn sweep_leftovers() {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let mut conn = admin().await;
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
            )
            .bind(DB_PREFIX)
            .fetch_all(&mut conn)
            .await
            .expect("list test databases");
            let now = unix_nanos();
            for name in names.iter().filter(|name| is_leftover(name, now)) {
                if let Err(e) = drop_database(&mut conn, name).await {
                    eprintln!("could not drop leftover test database {name}: {e}");
                }
            }
        })
        .await;
}

/// A database of one test's own, dropped (with any connection still open) on drop.
#[derive(Debug)]
pub(crate) struct TestDb {
    name: String,
    pub(crate) url: String,
}

impl TestDb {
    pub(crate) async fn create() -> Self {
        Self::create_with("").await
    }

    /// `options` go after `CREATE DATABASE name`.
    async fn create_with(options: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        sweep_leftovers().await;
        let name = format!(
            "{DB_PREFIX}{}_{}_{}",
            std::process::id(),
            unix_nanos(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut conn = admin().await;
        conn.execute(AssertSqlSafe(format!(
            "CREATE DATABASE \"{name}\" {options}"
        )))
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        let _ = conn.close().await;
        Self {
            url: database_url(&admin_url(), &name),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // The test's runtime may be shutting down: drop from a thread with one of its own.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = admin().await;
                drop_database(&mut conn, &name)
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("could not drop test database {}: panicked", self.name),
        }
    }
}

/// A store on a fresh database, which goes when the store does.
#[derive(Debug)]
pub(crate) struct TestStore {
    pub(crate) store: PostgresStore,
    _db: TestDb,
}

pub(crate) async fn fresh_store() -> TestStore {
    let db = TestDb::create().await;
    let store = PostgresStore::connect(&db.url, StoreNames::default())
        .await
        .expect("connect to the test database");
    TestStore { store, _db: db }
}

#[async_trait]
impl ChatStore for TestStore {
    async fn register_user(&self, user: &UserId) -> Result<ChatUser, StoreError> {
        self.store.register_user(user).await
    }
    async fn find_user(&self, user: &UserId) -> Result<Option<ChatUser>, StoreError> {
        self.store.find_user(user).await
    }
    async fn set_last_online(&self, user: &UserId, at: Timestamp) -> Result<(), StoreError> {
        self.store.set_last_online(user, at).await
    }
    async fn link(&self, a: &UserId, b: &UserId, at: Timestamp) -> Result<LinkOutcome, StoreError> {
        self.store.link(a, b, at).await
    }
    async fn find_room(&self, a: &UserId, b: &UserId) -> Result<Option<ChatRoomId>, StoreError> {
        self.store.find_room(a, b).await
    }
    async fn contacts(&self, user: &UserId) -> Result<Vec<ContactRecord>, StoreError> {
        self.store.contacts(user).await
    }
    async fn insert_message(&self, message: NewMessage) -> Result<Inserted, StoreError> {
        self.store.insert_message(message).await
    }
    async fn find_message(&self, id: &MessageId) -> Result<Option<StoredMessage>, StoreError> {
        self.store.find_message(id).await
    }
    async fn mark_sent(&self, ids: &[MessageId]) -> Result<Vec<StoredMessage>, StoreError> {
        self.store.mark_sent(ids).await
    }
    async fn read_up_to(
        &self,
        reader: &UserId,
        room: &ChatRoomId,
        up_to: &MessageId,
        at: Timestamp,
    ) -> Result<usize, StoreError> {
        self.store.read_up_to(reader, room, up_to, at).await
    }
    async fn edit_message(
        &self,
        id: &MessageId,
        text: &MessageText,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.store.edit_message(id, text, at).await
    }
    async fn delete_message(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.store.delete_message(id, at).await
    }
    async fn linked_users(
        &self,
        user: &UserId,
    ) -> Result<Vec<chatzz_core::LinkedUser>, StoreError> {
        self.store.linked_users(user).await
    }
    async fn block(
        &self,
        blocker: &UserId,
        blocked: &UserId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.store.block(blocker, blocked, at).await
    }
    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError> {
        self.store.unblock(blocker, blocked).await
    }
    async fn blocks_between(
        &self,
        a: &UserId,
        b: &UserId,
    ) -> Result<chatzz_core::Blocks, StoreError> {
        self.store.blocks_between(a, b).await
    }
    async fn history(
        &self,
        room: &ChatRoomId,
        query: &HistoryQuery,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.store.history(room, query).await
    }
    async fn claim_notifications(
        &self,
        claim: &chatzz_core::notification::NotificationClaim,
    ) -> Result<Vec<chatzz_core::notification::PendingNotification>, StoreError> {
        self.store.claim_notifications(claim).await
    }
    async fn finish_notification(&self, message: &MessageId) -> Result<(), StoreError> {
        self.store.finish_notification(message).await
    }
    async fn retry_notification(
        &self,
        message: &MessageId,
        owner: &str,
        attempts: u32,
        due: Timestamp,
    ) -> Result<(), StoreError> {
        self.store
            .retry_notification(message, owner, attempts, due)
            .await
    }
    async fn pending_notifications(&self) -> Result<u64, StoreError> {
        self.store.pending_notifications().await
    }
    async fn undelivered(
        &self,
        to: &UserId,
        per_sender: usize,
        total: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.store.undelivered(to, per_sender, total).await
    }
}

chatzz_core::chat_store_conformance!(fresh_store);

async fn table_names(store: &PostgresStore, like: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
         AND tablename LIKE $1 ORDER BY tablename",
    )
    .bind(like)
    .fetch_all(store.pool())
    .await
    .expect("tables")
}

async fn index_names(store: &PostgresStore) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() \
         ORDER BY indexname",
    )
    .fetch_all(store.pool())
    .await
    .expect("indexes")
}

#[tokio::test]
async fn table_names_follow_the_configured_prefix() {
    let db = TestDb::create().await;
    let names = StoreNames::with_prefix("app_").expect("prefix");
    let store = PostgresStore::connect(&db.url, names)
        .await
        .expect("connect");
    store.register_user(&user("alice")).await.expect("register");
    assert_eq!(
        table_names(&store, "%").await,
        vec![
            "app_blocks",
            "app_messages",
            "app_migrations",
            "app_read_positions",
            "app_rooms",
            "app_users"
        ]
    );
    assert_eq!(
        index_names(&store).await,
        vec![
            "app_blocks_pkey",
            "app_messages_by_room",
            "app_messages_client_id",
            "app_messages_notify",
            "app_messages_pkey",
            "app_messages_undelivered",
            "app_messages_unread",
            "app_migrations_pkey",
            "app_read_positions_pkey",
            "app_rooms_by_b",
            "app_rooms_pair",
            "app_rooms_pkey",
            "app_users_pkey",
        ]
    );
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_users")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(users, 1);
}

#[tokio::test]
async fn the_longest_prefix_keeps_every_name_whole() {
    let db = TestDb::create().await;
    let prefix = "p".repeat(40);
    let names = StoreNames::with_prefix(&prefix).expect("prefix");
    let store = PostgresStore::connect(&db.url, names)
        .await
        .expect("connect");
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
    let Inserted {
        message: stored,
        created,
    } = store
        .insert_message(message(&room, &alice, &bob, "hi"))
        .await
        .expect("insert");
    assert!(created);
    assert_eq!(
        store.history(&room, &everything()).await.expect("history"),
        vec![stored]
    );
    let indexes = index_names(&store).await;
    let expected: Vec<String> = [
        "blocks_pkey",
        "messages_by_room",
        "messages_client_id",
        "messages_notify",
        "messages_pkey",
        "messages_undelivered",
        "messages_unread",
        "migrations_pkey",
        "read_positions_pkey",
        "rooms_by_b",
        "rooms_pair",
        "rooms_pkey",
        "users_pkey",
    ]
    .iter()
    .map(|suffix| format!("{prefix}{suffix}"))
    .collect();
    assert_eq!(indexes, expected, "no name cut at 63 bytes");
}

#[tokio::test]
async fn data_survives_reconnecting_and_migrations_run_once() {
    let db = TestDb::create().await;
    let (alice, bob) = (user("alice"), user("bob"));
    // Two processes starting at once: the migration lock lets one apply the schema.
    let (first, second) = tokio::join!(
        PostgresStore::connect(&db.url, StoreNames::default()),
        PostgresStore::connect(&db.url, StoreNames::default()),
    );
    let (first, second) = (first.expect("connect"), second.expect("connect"));
    first.register_user(&alice).await.expect("register");
    let room = second
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
    first.pool().close().await;
    second.pool().close().await;
    let store = PostgresStore::connect(&db.url, StoreNames::default())
        .await
        .expect("reconnect");
    assert_eq!(
        store.find_room(&bob, &alice).await.expect("find_room"),
        Some(room)
    );
    assert!(store.find_user(&alice).await.expect("find_user").is_some());
    let (applied, succeeded): (i64, bool) =
        sqlx::query_as("SELECT COUNT(*), bool_and(success) FROM chatzz_migrations")
            .fetch_one(store.pool())
            .await
            .expect("migrations");
    assert_eq!((applied, succeeded), (3, true));
}

#[tokio::test]
async fn pairs_sort_in_byte_order_whatever_the_database_collation() {
    // In en-US, "a" < "B" and "é" < "z"; in Rust (and COLLATE "C") both are the other way.
    let db = TestDb::create_with("LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0").await;
    let store = PostgresStore::connect(&db.url, StoreNames::default())
        .await
        .expect("connect");
    for (a, b) in [("a", "B"), ("é", "z")] {
        let (a, b) = (user(a), user(b));
        let first = store.link(&a, &b, linked_at()).await.expect("link");
        assert!(first.created);
        let again = store.link(&b, &a, linked_at()).await.expect("link");
        assert_eq!((again.room, again.created), (first.room.clone(), false));
        assert_eq!(
            store.find_room(&a, &b).await.expect("find_room"),
            Some(first.room)
        );
    }
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_quickly() {
    // Nothing listens on port 1: the pool retries until its acquire timeout.
    let options: PgConnectOptions = "postgres://postgres@127.0.0.1:1/chatzz"
        .parse()
        .expect("options");
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy_with(options);
    let started = Instant::now();
    let err = PostgresStore::new(pool, StoreNames::default())
        .await
        .expect_err("no server");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn connecting_to_an_unreachable_server_is_unavailable() {
    let started = Instant::now();
    let err = PostgresStore::connect(
        "postgres://postgres@127.0.0.1:1/chatzz",
        StoreNames::default(),
    )
    .await
    .expect_err("no server");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_bad_url_is_internal_and_keeps_the_password_out() {
    for url in [
        "not a url",
        "postgres://user:s3cret-pw@127.0.0.1:1/db?sslmode=sometimes",
    ] {
        let err = PostgresStore::connect(url, StoreNames::default())
            .await
            .expect_err("bad url");
        assert!(matches!(&err, StoreError::Internal(_)), "{err:?}");
        assert!(!err.to_string().contains("s3cret-pw"), "{err}");
    }
}

#[tokio::test]
async fn a_closed_pool_is_unavailable() {
    let store = fresh_store().await;
    store.store.pool().close().await;
    let err = store.find_user(&user("alice")).await.expect_err("closed");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn sqlstates_map_to_unavailable_or_internal() {
    let store = fresh_store().await;
    for (code, unavailable) in [
        ("08006", true),
        ("08001", true),
        ("57P01", true),
        ("57P02", true),
        ("57P03", true),
        ("40001", true),
        ("40P01", true),
        ("53300", true),
        ("53100", true),
        ("57014", true),
        ("55P03", true),
        ("23505", false),
        ("22012", false),
        ("42P01", false),
        ("XX000", false),
    ] {
        assert_eq!(retryable(code), unavailable, "{code}");
        let raised = sqlx::query(AssertSqlSafe(format!(
            "DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '{code}'; END $$"
        )))
        .execute(store.store.pool())
        .await
        .expect_err("raised");
        let mapped = store_error(raised);
        assert_eq!(
            matches!(mapped, StoreError::Unavailable(_)),
            unavailable,
            "{code}: {mapped:?}"
        );
    }
}

#[tokio::test]
async fn inserting_into_an_unknown_room_is_an_error() {
    let store = fresh_store().await;
    let (alice, bob) = (user("alice"), user("bob"));
    for room in [ChatRoomId::new(sequence::encode(999)), ChatRoomId::new("x")] {
        let err = store
            .insert_message(message(&room, &alice, &bob, "lost"))
            .await
            .expect_err("unknown room");
        assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    }
}

#[tokio::test]
async fn an_insert_takes_its_id_only_once_it_holds_the_room() {
    let store = fresh_store().await;
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let room = store
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
    let other = store
        .link(&alice, &carol, linked_at())
        .await
        .expect("link")
        .room;
    // Another transaction holds the room, as a slow concurrent insert would.
    let mut holder = store.store.pool().begin().await.expect("begin");
    sqlx::query("SELECT id FROM chatzz_rooms WHERE id = $1 FOR UPDATE")
        .bind(row_id(room.as_str()))
        .execute(&mut *holder)
        .await
        .expect("lock");
    let waiting = tokio::spawn({
        let store = store.store.clone();
        let message = message(&room, &alice, &bob, "queued");
        async move { store.insert_message(message).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the insert waits for the room");
    let Inserted {
        message: elsewhere, ..
    } = store
        .insert_message(message(&other, &carol, &alice, "other room"))
        .await
        .expect("another room is not held");
    holder.rollback().await.expect("release");
    let Inserted {
        message: queued,
        created,
    } = waiting.await.expect("join").expect("insert");
    assert!(created);
    assert!(
        queued.id > elsewhere.id,
        "the queued insert took its id after it got the room"
    );
}

#[test]
fn database_urls_keep_everything_but_the_database() {
    assert_eq!(
        database_url("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
        "postgres://u:p@h:5432/x?sslmode=disable"
    );
    assert_eq!(database_url("postgres://h", "x"), "postgres://h/x");
    assert_eq!(database_url("postgres://h/", "x"), "postgres://h/x");
}

#[test]
fn only_databases_of_finished_runs_are_leftovers() {
    let now = unix_nanos();
    let mine = format!("{DB_PREFIX}{}_{now}_0", std::process::id());
    assert!(!is_leftover(&mine, now));
    assert!(!is_leftover("chatzz_other_1_2_3", now));
    assert!(!is_leftover(&format!("{DB_PREFIX}garbage"), now));
    let old = format!("{DB_PREFIX}1_{}_0", now - STALE_AFTER.as_nanos() - 1);
    assert!(is_leftover(&old, now), "stale");
}

mod batching;
mod directory;
mod inbox;
mod notifications;
