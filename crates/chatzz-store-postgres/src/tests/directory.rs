//! [`PostgresUserDirectory`] on a host application's own tables, each test in a database
//! of its own.

use chatzz_core::UserDirectory;
use chatzz_store_sql::testing::directory::{self as cases, object, wide_columns};
use chatzz_store_sql::testing::user;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool};

use super::TestDb;
use crate::PostgresUserDirectory;

/// A fresh database holding the host's `users` table, and the host's pool.
async fn host_db() -> (TestDb, PgPool) {
    let db = TestDb::create().await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db.url)
        .await
        .expect("connect");
    for statement in [
        "CREATE TABLE users (id text PRIMARY KEY, name text NOT NULL, age integer, \
         admin boolean, score double precision, nickname text, joined timestamp, \
         prefs jsonb, secret text)",
        "INSERT INTO users VALUES \
         ('alice', 'Alice', 30, true, 1.5, NULL, '2024-01-02T03:04:05Z', '{\"theme\": \"dark\"}', 'hunter2'), \
         ('bob', 'Bob ''the'' \"Builder\"', NULL, false, -2, 'bobby', NULL, NULL, 's')",
    ] {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect(statement);
    }
    (db, pool)
}

async fn run(pool: &PgPool, statement: &str) {
    sqlx::query(AssertSqlSafe(statement.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

const FIELDS: &[&str] = &[
    "name", "age", "admin", "score", "nickname", "joined", "prefs",
];

#[tokio::test]
async fn a_known_user_gets_exactly_the_configured_fields_with_their_types() {
    let (db, _host) = host_db().await;
    let directory = PostgresUserDirectory::connect(&db.url, "users", "id", FIELDS)
        .await
        .expect("connect");
    directory.check().await.expect("check");
    assert_eq!(
        directory.details(&user("alice")).await.expect("alice"),
        Some(object(json!({
            "name": "Alice", "age": 30, "admin": true, "score": 1.5, "nickname": null,
            "joined": "2024-01-02T03:04:05", "prefs": { "theme": "dark" }
        })))
    );
    assert_eq!(
        directory.details(&user("bob")).await.expect("bob"),
        Some(object(json!({
            // A whole double is written without a fraction: JSON does not tell them apart.
            "name": "Bob 'the' \"Builder\"", "age": null, "admin": false, "score": -2,
            "nickname": "bobby", "joined": null, "prefs": null
        })))
    );
}

#[tokio::test]
async fn an_unknown_or_hostile_id_matches_nothing() {
    let (db, host) = host_db().await;
    let directory = PostgresUserDirectory::new(host, "users", "id", FIELDS).expect("new");
    cases::an_unknown_or_hostile_id_matches_nothing(&directory, &["1; DROP TABLE users"]).await;
    drop(db);
}

#[tokio::test]
async fn no_fields_answers_whether_the_user_exists() {
    let (_db, host) = host_db().await;
    let directory = PostgresUserDirectory::new(host, "users", "id", &[]).expect("new");
    directory.check().await.expect("check");
    cases::no_fields_answers_whether_the_user_exists(&directory).await;
}

#[tokio::test]
async fn integer_uuid_and_other_id_columns_match_the_canonical_text() {
    let (_db, host) = host_db().await;
    run(
        &host,
        "CREATE TABLE members (id bigserial PRIMARY KEY, label text)",
    )
    .await;
    run(
        &host,
        "INSERT INTO members VALUES (42, 'forty-two'), (-7, 'minus seven')",
    )
    .await;
    run(
        &host,
        "CREATE TABLE small (id smallint PRIMARY KEY, label text)",
    )
    .await;
    run(&host, "INSERT INTO small VALUES (42, 'small forty-two')").await;
    run(
        &host,
        "CREATE TABLE accounts (id uuid PRIMARY KEY, label text)",
    )
    .await;
    run(
        &host,
        "INSERT INTO accounts VALUES ('0e4a1f36-5d8b-4c2e-9f7a-3b6c8d9e0f12', 'uuid')",
    )
    .await;
    run(
        &host,
        "CREATE TABLE numbered (id numeric PRIMARY KEY, label text)",
    )
    .await;
    run(
        &host,
        "INSERT INTO numbered VALUES (42, 'numeric'), (1.5, 'one and a half')",
    )
    .await;
    run(
        &host,
        "CREATE TABLE named (id varchar(20) PRIMARY KEY, label text)",
    )
    .await;
    run(&host, "INSERT INTO named VALUES ('42', 'varchar')").await;

    let label = |text: &str| Some(object(json!({ "label": text })));
    let never = [
        "042",
        "+42",
        "42.0",
        " 42",
        "4.2e1",
        "43",
        "alice",
        "99999999999999999999",
    ];
    for (table, hits) in [
        ("members", vec![("42", "forty-two"), ("-7", "minus seven")]),
        ("small", vec![("42", "small forty-two")]),
        (
            "numbered",
            vec![("42", "numeric"), ("1.5", "one and a half")],
        ),
        ("named", vec![("42", "varchar")]),
        (
            "accounts",
            vec![("0e4a1f36-5d8b-4c2e-9f7a-3b6c8d9e0f12", "uuid")],
        ),
    ] {
        let directory =
            PostgresUserDirectory::new(host.clone(), table, "id", &["label"]).expect("new");
        directory.check().await.expect("check");
        for (id, text) in hits {
            assert_eq!(
                directory.details(&user(id)).await.expect(id),
                label(text),
                "{table} {id}"
            );
        }
        for id in never.iter().chain(cases::HOSTILE_IDS).chain(&[
            "1; DROP TABLE users",
            "0E4A1F36-5D8B-4C2E-9F7A-3B6C8D9E0F12",
            "{0e4a1f36-5d8b-4c2e-9f7a-3b6c8d9e0f12}",
            "0e4a1f365d8b4c2e9f7a3b6c8d9e0f12",
            "00000000-0000-0000-0000-000000000000",
        ]) {
            assert_eq!(
                directory.details(&user(id)).await.expect(id),
                None,
                "{table} {id}"
            );
        }
    }
    // The id itself may be a field, with its own JSON type.
    let directory = PostgresUserDirectory::new(host, "members", "id", &["id"]).expect("new");
    assert_eq!(
        directory.details(&user("42")).await.expect("42"),
        Some(object(json!({ "id": 42 })))
    );
}

#[tokio::test]
async fn a_schema_qualified_table_and_case_sensitive_names_work() {
    let (_db, host) = host_db().await;
    run(&host, "CREATE SCHEMA app").await;
    run(
        &host,
        "CREATE TABLE app.\"People\" (\"personId\" text PRIMARY KEY, \"displayName\" text)",
    )
    .await;
    run(
        &host,
        "INSERT INTO app.\"People\" VALUES ('p1', 'Person One')",
    )
    .await;
    let directory =
        PostgresUserDirectory::new(host.clone(), "app.People", "personId", &["displayName"])
            .expect("new");
    directory.check().await.expect("check");
    assert_eq!(
        directory.details(&user("p1")).await.expect("p1"),
        Some(object(json!({ "displayName": "Person One" })))
    );
    // Not on the search path, and names are case-sensitive.
    for (table, id, field) in [
        ("People", "personId", "displayName"),
        ("app.people", "personId", "displayName"),
        ("app.People", "personid", "displayName"),
        ("app.People", "personId", "displayname"),
    ] {
        let directory = PostgresUserDirectory::new(host.clone(), table, id, &[field]).expect("new");
        assert!(directory.check().await.is_err(), "{table}.{id} {field}");
        assert!(
            directory.details(&user("p1")).await.is_err(),
            "{table}.{id} {field}"
        );
    }
}

#[tokio::test]
async fn bad_names_are_refused_at_construction() {
    let (_db, host) = host_db().await;
    cases::bad_names_are_refused_at_construction(
        |table, id, fields| PostgresUserDirectory::new(host.clone(), table, id, fields),
        |name| {
            vec![
                name.to_owned(),
                format!("public.{name}"),
                format!("{name}.users"),
            ]
        },
        &[],
    );
    for table in ["a.b.c", "public.", ".users"] {
        assert!(
            PostgresUserDirectory::new(host.clone(), table, "id", &[]).is_err(),
            "{table:?}"
        );
    }
    for name in ["public.users", "users.name"] {
        assert!(
            PostgresUserDirectory::new(host.clone(), "users", name, &[]).is_err(),
            "{name:?}"
        );
        assert!(
            PostgresUserDirectory::new(host.clone(), "users", "id", &[name]).is_err(),
            "{name:?}"
        );
    }
    let directory =
        PostgresUserDirectory::new(host, "public.users", "id", &["name"]).expect("public.users");
    assert_eq!(
        directory.details(&user("alice")).await.expect("alice"),
        Some(object(json!({ "name": "Alice" })))
    );
}

#[tokio::test]
async fn a_missing_table_or_column_is_an_error_at_first_use() {
    let (_db, host) = host_db().await;
    for (table, id, fields) in [
        ("people", "id", &["name"][..]),
        ("users", "user_id", &["name"][..]),
        ("users", "id", &["name", "nope"][..]),
    ] {
        let directory = PostgresUserDirectory::new(host.clone(), table, id, fields).expect("new");
        let what = format!("{table}.{id} {fields:?}");
        cases::a_missing_table_or_column_is_an_error(&directory, directory.check().await, &what)
            .await;
    }
}

#[tokio::test]
async fn many_fields_take_several_json_objects() {
    let (_db, host) = host_db().await;
    let names = wide_columns();
    let columns: Vec<String> = names.iter().map(|n| format!("{n} integer")).collect();
    run(
        &host,
        &format!("CREATE TABLE wide (id text, {})", columns.join(", ")),
    )
    .await;
    let values: Vec<String> = (0..120).map(|i| i.to_string()).collect();
    run(
        &host,
        &format!("INSERT INTO wide VALUES ('w', {})", values.join(", ")),
    )
    .await;
    let fields: Vec<&str> = names.iter().map(String::as_str).collect();
    let directory = PostgresUserDirectory::new(host, "wide", "id", &fields).expect("new");
    cases::many_fields_take_several_json_objects(&directory).await;
}

#[tokio::test]
async fn names_are_kept_as_given_and_duplicates_shown_once() {
    let (_db, host) = host_db().await;
    let directory =
        PostgresUserDirectory::new(host, "users", "id", &["name", "age", "name"]).expect("new");
    assert_eq!(
        directory.details(&user("alice")).await.expect("alice"),
        Some(object(json!({ "name": "Alice", "age": 30 })))
    );
}

#[tokio::test]
async fn a_bad_url_is_an_error_without_the_password() {
    let err = PostgresUserDirectory::connect("postgres://u:s3cret@[::1", "users", "id", &[])
        .await
        .expect_err("bad url");
    assert!(!err.0.contains("s3cret"), "{err}");
    assert!(
        PostgresUserDirectory::connect("postgres://u:s3cret@127.0.0.1:1/x", "users", "id", &[])
            .await
            .is_err()
    );
}

/// The host table of the shared user-directory conformance suite, in a scratch database.
async fn conformance_directory(
    fields: &'static [&'static str],
) -> chatzz_core::testing::directory_conformance::Hosted<PostgresUserDirectory, TestDb> {
    let db = TestDb::create().await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db.url)
        .await
        .expect("connect");
    for statement in chatzz_core::testing::directory_conformance::host_table_sql("users") {
        run(&pool, &statement).await;
    }
    let directory = PostgresUserDirectory::new(pool, "users", "id", fields).expect("directory");
    chatzz_core::testing::directory_conformance::Hosted::new(directory, db)
}

mod conformance {
    chatzz_core::user_directory_conformance!(super::conformance_directory);
}
