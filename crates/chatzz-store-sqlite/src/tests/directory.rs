//! [`SqliteUserDirectory`] on a host application's own tables, in temp files.

use chatzz_core::{UserDirectory, UserId};
use serde_json::{Map, Value, json};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;

use super::fresh_path;
use crate::SqliteUserDirectory;

/// A fresh database file holding the host's `users` table; its URL and the host's pool.
async fn host_db() -> (String, SqlitePool) {
    let url = format!("sqlite://{}", fresh_path().display());
    let options: SqliteConnectOptions = url.parse().expect("url");
    let pool = SqlitePool::connect_with(options.create_if_missing(true))
        .await
        .expect("open");
    for statement in [
        "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL, age INTEGER, \
         admin BOOLEAN, score REAL, nickname TEXT, secret TEXT, picture BLOB)",
        "INSERT INTO users (id, name, age, admin, score, nickname, secret) VALUES \
         ('alice', 'Alice', 30, 1, 1.5, NULL, 'hunter2'), \
         ('bob', 'Bob ''the'' \"Builder\"', NULL, 0, -2.0, 'bobby', 's')",
        "UPDATE users SET picture = x'00ff' WHERE id = 'bob'",
    ] {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect(statement);
    }
    (url, pool)
}

fn user(id: &str) -> UserId {
    UserId::parse(id).expect("user id")
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

const FIELDS: &[&str] = &["name", "age", "admin", "score", "nickname"];

/// Ids that an injected or operator-shaped lookup would match.
const HOSTILE_IDS: &[&str] = &[
    "' OR 1=1 --",
    "alice' --",
    "alice' OR '1'='1",
    "\" OR \"\"=\"",
    "{\"$ne\": null}",
    "%",
    "alice%",
    "ALICE",
    " alice",
    "alice ",
];

#[tokio::test]
async fn a_known_user_gets_exactly_the_configured_fields_with_their_types() {
    let (url, _host) = host_db().await;
    let directory = SqliteUserDirectory::connect(&url, "users", "id", FIELDS)
        .await
        .expect("connect");
    directory.check().await.expect("check");
    let alice = directory.details(&user("alice")).await.expect("details");
    assert_eq!(
        alice,
        Some(object(json!({
            "name": "Alice", "age": 30, "admin": true, "score": 1.5, "nickname": null
        })))
    );
    let bob = directory.details(&user("bob")).await.expect("details");
    assert_eq!(
        bob,
        Some(object(json!({
            "name": "Bob 'the' \"Builder\"", "age": null, "admin": false, "score": -2.0,
            "nickname": "bobby"
        })))
    );
}

#[tokio::test]
async fn an_unknown_or_hostile_id_matches_nothing() {
    let (url, _host) = host_db().await;
    let directory = SqliteUserDirectory::connect(&url, "users", "id", FIELDS)
        .await
        .expect("connect");
    assert_eq!(
        directory.details(&user("carol")).await.expect("carol"),
        None
    );
    for id in HOSTILE_IDS {
        assert_eq!(directory.details(&user(id)).await.expect(id), None, "{id}");
    }
}

#[tokio::test]
async fn no_fields_answers_whether_the_user_exists() {
    let (url, _host) = host_db().await;
    let directory = SqliteUserDirectory::connect(&url, "users", "id", &[])
        .await
        .expect("connect");
    assert_eq!(
        directory.details(&user("alice")).await.expect("alice"),
        Some(Map::new())
    );
    assert_eq!(
        directory.details(&user("carol")).await.expect("carol"),
        None
    );
}

#[tokio::test]
async fn an_integer_id_column_matches_the_canonical_text_only() {
    let (url, host) = host_db().await;
    sqlx::query("CREATE TABLE members (member_id INTEGER PRIMARY KEY, display_name TEXT)")
        .execute(&host)
        .await
        .expect("create");
    sqlx::query("INSERT INTO members VALUES (42, 'Forty-two'), (-7, 'Minus seven')")
        .execute(&host)
        .await
        .expect("insert");
    let directory =
        SqliteUserDirectory::new(host, "members", "member_id", &["display_name"]).expect("new");
    assert_eq!(
        directory.details(&user("42")).await.expect("42"),
        Some(object(json!({ "display_name": "Forty-two" })))
    );
    assert_eq!(
        directory.details(&user("-7")).await.expect("-7"),
        Some(object(json!({ "display_name": "Minus seven" })))
    );
    for id in ["042", "42.0", "+42", " 42", "4.2e1", "0x2A", "43", "alice"]
        .iter()
        .chain(HOSTILE_IDS)
    {
        assert_eq!(directory.details(&user(id)).await.expect(id), None, "{id}");
    }
    let url_directory = SqliteUserDirectory::connect(&url, "members", "member_id", &["member_id"])
        .await
        .expect("connect");
    assert_eq!(
        url_directory.details(&user("42")).await.expect("42"),
        Some(object(json!({ "member_id": 42 })))
    );
}

#[tokio::test]
async fn bad_names_are_refused_at_construction() {
    let (_url, host) = host_db().await;
    let too_long = "a".repeat(64);
    let bad = [
        "",
        "1users",
        "users;",
        "users\"",
        "us'ers",
        "us ers",
        "us-ers",
        "main.users",
        "naïve",
        "users--",
        too_long.as_str(),
    ];
    for name in bad {
        assert!(
            SqliteUserDirectory::new(host.clone(), name, "id", &["name"]).is_err(),
            "table {name:?}"
        );
        assert!(
            SqliteUserDirectory::new(host.clone(), "users", name, &["name"]).is_err(),
            "id {name:?}"
        );
        assert!(
            SqliteUserDirectory::new(host.clone(), "users", "id", &["name", name]).is_err(),
            "field {name:?}"
        );
    }
    let longest = "a".repeat(63);
    for good in ["users", "_users", "Users_2", longest.as_str()] {
        assert!(
            SqliteUserDirectory::new(host.clone(), good, good, &[good]).is_ok(),
            "{good:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_table_or_column_is_an_error_at_first_use() {
    let (url, _host) = host_db().await;
    let alice = user("alice");
    for (table, id, fields) in [
        ("people", "id", &["name"][..]),
        ("users", "user_id", &["name"][..]),
        // SQLite would take an unknown "nope" for the string 'nope' if it were unqualified.
        ("users", "id", &["name", "nope"][..]),
        ("users", "id", &["nope"][..]),
    ] {
        let directory = SqliteUserDirectory::connect(&url, table, id, fields)
            .await
            .expect("connect");
        assert!(directory.check().await.is_err(), "{table}.{id} {fields:?}");
        let err = directory.details(&alice).await.expect_err("details");
        assert!(
            err.0.contains("people") || err.0.contains("user_id") || err.0.contains("nope"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_blob_is_an_error_not_a_panic() {
    let (url, _host) = host_db().await;
    let directory = SqliteUserDirectory::connect(&url, "users", "id", &["name", "picture"])
        .await
        .expect("connect");
    assert!(directory.details(&user("bob")).await.is_err());
    // Alice's picture is NULL.
    assert_eq!(
        directory.details(&user("alice")).await.expect("alice"),
        Some(object(json!({ "name": "Alice", "picture": null })))
    );
}

#[tokio::test]
async fn names_are_kept_as_given_and_duplicates_shown_once() {
    let (url, _host) = host_db().await;
    let directory = SqliteUserDirectory::connect(&url, "USERS", "ID", &["Name", "age", "Name"])
        .await
        .expect("connect");
    assert_eq!(
        directory.details(&user("alice")).await.expect("alice"),
        Some(object(json!({ "Name": "Alice", "age": 30 })))
    );
}

#[tokio::test]
async fn many_fields_take_several_json_objects() {
    let (url, host) = host_db().await;
    let names: Vec<String> = (0..120).map(|i| format!("c{i}")).collect();
    let columns: Vec<String> = names.iter().map(|n| format!("{n} INTEGER")).collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE wide (id TEXT, {})",
        columns.join(", ")
    )))
    .execute(&host)
    .await
    .expect("create");
    let values: Vec<String> = (0..120).map(|i| i.to_string()).collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO wide VALUES ('w', {})",
        values.join(", ")
    )))
    .execute(&host)
    .await
    .expect("insert");
    let fields: Vec<&str> = names.iter().map(String::as_str).collect();
    let directory = SqliteUserDirectory::connect(&url, "wide", "id", &fields)
        .await
        .expect("connect");
    let details = directory
        .details(&user("w"))
        .await
        .expect("w")
        .expect("found");
    assert_eq!(details.len(), 120);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(details[name.as_str()], json!(i), "{name}");
    }
}

#[tokio::test]
async fn connect_never_creates_a_database_and_cannot_write() {
    let missing = fresh_path();
    let url = format!("sqlite://{}", missing.display());
    assert!(
        SqliteUserDirectory::connect(&url, "users", "id", &["name"])
            .await
            .is_err()
    );
    assert!(!missing.exists());
    assert!(
        SqliteUserDirectory::connect("mysql://x", "users", "id", &["name"])
            .await
            .is_err()
    );

    let (url, _host) = host_db().await;
    let directory = SqliteUserDirectory::connect(&url, "users", "id", &["name"])
        .await
        .expect("connect");
    let write = sqlx::query("DELETE FROM users")
        .execute(directory.pool())
        .await;
    assert!(write.is_err(), "the directory's pool wrote");
}
