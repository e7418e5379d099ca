//! [`SqliteUserDirectory`] on a host application's own tables, in temp files.

use chatzz_core::UserDirectory;
use chatzz_store_sql::testing::directory::{self as cases, object, wide_columns};
use chatzz_store_sql::testing::user;
use serde_json::json;
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

const FIELDS: &[&str] = &["name", "age", "admin", "score", "nickname"];

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
    cases::an_unknown_or_hostile_id_matches_nothing(&directory, &[]).await;
}

#[tokio::test]
async fn no_fields_answers_whether_the_user_exists() {
    let (url, _host) = host_db().await;
    let directory = SqliteUserDirectory::connect(&url, "users", "id", &[])
        .await
        .expect("connect");
    cases::no_fields_answers_whether_the_user_exists(&directory).await;
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
        .chain(cases::HOSTILE_IDS)
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
    cases::bad_names_are_refused_at_construction(
        |table, id, fields| SqliteUserDirectory::new(host.clone(), table, id, fields),
        |name| vec![name.to_owned()],
        &["main.users"],
    );
}

#[tokio::test]
async fn a_missing_table_or_column_is_an_error_at_first_use() {
    let (url, _host) = host_db().await;
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
        let what = format!("{table}.{id} {fields:?}");
        cases::a_missing_table_or_column_is_an_error(&directory, directory.check().await, &what)
            .await;
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
    let names = wide_columns();
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
    cases::many_fields_take_several_json_objects(&directory).await;
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

/// The host table of the shared user-directory conformance suite, in a fresh file.
async fn conformance_directory(fields: &'static [&'static str]) -> SqliteUserDirectory {
    let url = format!("sqlite://{}", fresh_path().display());
    let options: SqliteConnectOptions = url.parse().expect("url");
    let pool = SqlitePool::connect_with(options.create_if_missing(true))
        .await
        .expect("open");
    for statement in chatzz_core::testing::directory_conformance::host_table_sql("users") {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .expect("seeding the host table");
    }
    SqliteUserDirectory::new(pool, "users", "id", fields).expect("directory")
}

mod conformance {
    chatzz_core::user_directory_conformance!(super::conformance_directory);
}
