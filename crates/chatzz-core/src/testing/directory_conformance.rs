//! The conformance suite of the [`UserDirectory`] port: every implementation runs it
//! through [`user_directory_conformance!`](crate::user_directory_conformance).
//!
//! A directory reads the host application's own users, so the suite cannot start from an
//! empty one: each adapter's factory builds a directory over a fresh host table (or
//! collection) holding [`HOST_USERS`], with [`HostUser::id`] in the id column and one
//! column per other field (`name`, `age`, `score`, `admin`; a `None` is `NULL`, or a
//! missing field in a document store), reading the fields it is given. For SQL stores,
//! [`host_table_sql`] writes that table.
//!
//! The rules held here are those the port and every adapter promise: a known user gets
//! exactly the configured fields, keyed by their names, with their JSON types (`null` for
//! a missing value); an unknown user is `Ok(None)`, and an id only matches itself (no
//! operator, pattern, case or whitespace games); no fields answers whether the user
//! exists; a field named twice is shown once; concurrent lookups each get their own user.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;

use async_trait::async_trait;
use futures_util::future::join_all;
use serde_json::{Map, Value, json};

use crate::id::UserId;
use crate::ports::{DirectoryError, UserDirectory};

/// Expands to one `#[tokio::test]` per case. `$factory` is an async closure (or fn)
/// taking the fields to read, a `&'static [&'static str]`, and returning a
/// [`UserDirectory`] over a fresh host table holding [`HOST_USERS`] (see the module
/// documentation), or a [`Hosted`] one that cleans up after itself. The calling crate
/// needs `tokio` with the `macros` and `rt-multi-thread` features as a dev-dependency.
#[macro_export]
macro_rules! user_directory_conformance {
    ($factory:expr) => {
        $crate::user_directory_conformance!(@cases $factory;
            known_users_get_exactly_the_configured_fields,
            only_the_configured_fields_are_shown,
            unknown_and_look_alike_ids_match_nothing,
            no_fields_answers_whether_the_user_exists,
            a_field_named_twice_is_shown_once,
            concurrent_lookups_each_get_their_own_user,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::testing::directory_conformance::$case($factory).await;
            }
        )*
    };
}

/// A directory with what must outlive it, such as the scratch database it reads
/// (dropped after the directory): what a factory returns when it needs cleaning up.
#[derive(Debug)]
pub struct Hosted<D, G> {
    pub directory: D,
    pub guard: G,
}

impl<D, G> Hosted<D, G> {
    pub fn new(directory: D, guard: G) -> Self {
        Self { directory, guard }
    }
}

#[async_trait]
impl<D: UserDirectory, G: Send + Sync + 'static> UserDirectory for Hosted<D, G> {
    async fn details(&self, user: &UserId) -> Result<Option<Map<String, Value>>, DirectoryError> {
        self.directory.details(user).await
    }
}

/// A user of the host application, as the suite's host table holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostUser {
    /// The id column: a text column (or a string `_id`).
    pub id: &'static str,
    /// A text column.
    pub name: Option<&'static str>,
    /// An integer column.
    pub age: Option<i64>,
    /// A floating-point column (`REAL`); the values are exact in binary and not integral.
    pub score: Option<f64>,
    /// A boolean column (`BOOLEAN`).
    pub admin: Option<bool>,
}

/// The users every factory's host table holds.
pub const HOST_USERS: &[HostUser] = &[
    HostUser {
        id: "alice",
        name: Some("Alice"),
        age: Some(30),
        score: Some(1.5),
        admin: Some(true),
    },
    HostUser {
        id: "bob",
        name: Some("Bob 'the' \"Builder\""),
        age: None,
        score: Some(-0.25),
        admin: Some(false),
    },
    HostUser {
        id: "o'brien",
        name: Some("O'Brien; DROP TABLE users --"),
        age: Some(41),
        score: None,
        admin: None,
    },
    HostUser {
        id: "zoë 李",
        name: Some("Zoë"),
        age: Some(0),
        score: Some(2.75),
        admin: Some(true),
    },
    HostUser {
        id: "42",
        name: None,
        age: Some(12_345_678_901),
        score: None,
        admin: Some(false),
    },
];

/// Every field the host table has besides the id.
pub const FIELDS: &[&str] = &["name", "age", "score", "admin"];

/// Ids that no host user has, some of them shaped to match one by accident or by
/// injection: another user, case, whitespace, SQL patterns and quotes, MongoDB
/// operators, regular expressions, and other spellings of the number 42.
pub const LOOK_ALIKE_IDS: &[&str] = &[
    "carol",
    "ALICE",
    "Alice",
    " alice",
    "alice ",
    "alice%",
    "ali_e",
    "%",
    "_",
    "*",
    ".*",
    "alice' --",
    "' OR '1'='1",
    "o''brien",
    "o\\'brien",
    "\"alice\"",
    "{\"$ne\": null}",
    "{\"$gt\": \"\"}",
    "{\"$regex\": \".*\"}",
    "$ne",
    "zoë",
    "ZOË 李",
    "042",
    "+42",
    "42.0",
    " 42",
];

/// `CREATE TABLE` and `INSERT` statements for a host table named `table` (quoted as
/// given) holding [`HOST_USERS`], in SQL that SQLite and PostgreSQL both run: `id` `TEXT
/// PRIMARY KEY`, `name` `TEXT`, `age` `BIGINT`, `score` `REAL`, `admin` `BOOLEAN`.
pub fn host_table_sql(table: &str) -> Vec<String> {
    fn text(value: &str) -> String {
        format!("'{}'", value.replace('\'', "''"))
    }
    fn or_null<T>(value: Option<T>, show: impl FnOnce(T) -> String) -> String {
        value.map_or_else(|| "NULL".to_owned(), show)
    }
    let mut statements = vec![format!(
        "CREATE TABLE \"{table}\" (\"id\" TEXT PRIMARY KEY, \"name\" TEXT, \"age\" BIGINT, \
         \"score\" REAL, \"admin\" BOOLEAN)"
    )];
    statements.extend(HOST_USERS.iter().map(|user| {
        format!(
            "INSERT INTO \"{table}\" (\"id\", \"name\", \"age\", \"score\", \"admin\") \
             VALUES ({}, {}, {}, {}, {})",
            text(user.id),
            or_null(user.name, text),
            or_null(user.age, |n| n.to_string()),
            or_null(user.score, |x| x.to_string()),
            or_null(user.admin, |b| if b { "TRUE" } else { "FALSE" }.to_owned()),
        )
    }));
    statements
}

/// What a directory reading `fields` must answer for `user`.
pub fn expected(user: &HostUser, fields: &[&str]) -> Map<String, Value> {
    fields
        .iter()
        .map(|field| {
            let value = match *field {
                "name" => json!(user.name),
                "age" => json!(user.age),
                "score" => json!(user.score),
                "admin" => json!(user.admin),
                other => panic!("the host table has no field {other:?}"),
            };
            ((*field).to_owned(), value)
        })
        .collect()
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

async fn details(directory: &impl UserDirectory, id: &str) -> Option<Map<String, Value>> {
    directory
        .details(&user(id))
        .await
        .unwrap_or_else(|e| panic!("looking up {id:?}: {e}"))
}

pub async fn known_users_get_exactly_the_configured_fields<F, Fut, D>(factory: F)
where
    F: Fn(&'static [&'static str]) -> Fut,
    Fut: Future<Output = D>,
    D: UserDirectory,
{
    let directory = factory(FIELDS).await;
    for host_user in HOST_USERS {
        assert_eq!(
            details(&directory, host_user.id).await,
            Some(expected(host_user, FIELDS)),
            "{:?}",
            host_user.id
        );
    }
}

pub async fn only_the_configured_fields_are_shown<F, Fut, D>(factory: F)
where
    F: Fn(&'static [&'static str]) -> Fut,
    Fut: Future<Output = D>,
    D: UserDirectory,
{
    const SOME: [&[&str]; 3] = [&["name"], &["admin", "age"], &["score"]];
    for fields in SOME {
        let directory = factory(fields).await;
        for host_user in HOST_USERS {
            assert_eq!(
                details(&directory, host_user.id).await,
                Some(expected(host_user, fields)),
                "{:?} with {fields:?}",
                host_user.id
            );
        }
    }
}

pub async fn unknown_and_look_alike_ids_match_nothing<F, Fut, D>(factory: F)
where
    F: Fn(&'static [&'static str]) -> Fut,
    Fut: Future<Output = D>,
    D: UserDirectory,
{
    let directory = factory(FIELDS).await;
    for id in LOOK_ALIKE_IDS {
        assert_eq!(details(&directory, id).await, None, "{id:?}");
    }
    // The directory still answers for its users afterwards.
    assert_eq!(
        details(&directory, "alice").await,
        Some(expected(&HOST_USERS[0], FIELDS))
    );
}

pub async fn no_fields_answers_whether_the_user_exists<F, Fut, D>(factory: F)
where
    F: Fn(&'static [&'static str]) -> Fut,
    Fut: Future<Output = D>,
    D: UserDirectory,
{
    let directory = factory(&[]).await;
    for host_user in HOST_USERS {
        assert_eq!(
            details(&directory, host_user.id).await,
            Some(Map::new()),
            "{:?}",
            host_user.id
        );
    }
    for id in ["carol", "ALICE", "{\"$ne\": null}", "' OR '1'='1"] {
        assert_eq!(details(&directory, id).await, None, "{id:?}");
    }
}

pub async fn a_field_named_twice_is_shown_once<F, Fut, D>(factory: F)
where
    F: Fn(&'static [&'static str]) -> Fut,
    Fut: Future<Output = D>,
    D: UserDirectory,
{
    let directory = factory(&["name", "age", "name"]).await;
    assert_eq!(
        details(&directory, "alice").await,
        Some(expected(&HOST_USERS[0], &["name", "age"]))
    );
}

pub async fn concurrent_lookups_each_get_their_own_user<F, Fut, D>(factory: F)
where
    F: Fn(&'static [&'static str]) -> Fut,
    Fut: Future<Output = D>,
    D: UserDirectory,
{
    let directory = factory(FIELDS).await;
    let ids: Vec<&str> = (0..8)
        .flat_map(|_| HOST_USERS.iter().map(|u| u.id).chain(["carol"]))
        .collect();
    let answers = join_all(ids.iter().map(|id| details(&directory, id))).await;
    for (id, answer) in ids.iter().zip(answers) {
        let wanted = HOST_USERS
            .iter()
            .find(|u| u.id == *id)
            .map(|u| expected(u, FIELDS));
        assert_eq!(answer, wanted, "{id:?}");
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use serde_json::{Map, Value};

    use super::{HOST_USERS, expected};
    use crate::id::UserId;
    use crate::ports::{DirectoryError, UserDirectory};

    /// The host table as a plain list: the suite checked against the simplest directory.
    #[derive(Debug)]
    struct ListDirectory(Vec<&'static str>);

    #[async_trait]
    impl UserDirectory for ListDirectory {
        async fn details(
            &self,
            user: &UserId,
        ) -> Result<Option<Map<String, Value>>, DirectoryError> {
            let mut fields = self.0.clone();
            let mut seen = Vec::new();
            fields.retain(|f| {
                let first = !seen.contains(f);
                seen.push(*f);
                first
            });
            Ok(HOST_USERS
                .iter()
                .find(|u| u.id == user.as_str())
                .map(|u| expected(u, &fields)))
        }
    }

    crate::user_directory_conformance!(|fields: &'static [&'static str]| async move {
        ListDirectory(fields.to_vec())
    });
}
