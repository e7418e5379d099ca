//! The cases both SQL user directories run against a host database of their own: each
//! directory's test builds the host's tables in its own SQL and hands the directory
//! over.

use chatzz_core::{DirectoryError, UserDirectory};
use serde_json::{Map, Value, json};

use super::user;

/// The map of a JSON object.
pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Ids that an injected or operator-shaped lookup would match.
pub const HOSTILE_IDS: &[&str] = &[
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

/// Names a directory refuses for a table, a column or a field, besides `more`.
fn bad_names(too_long: &str) -> Vec<&str> {
    vec![
        "", "1users", "users;", "users\"", "us'ers", "us ers", "us-ers", "naïve", "users--",
        too_long,
    ]
}

/// No user `carol`, and none of [`HOSTILE_IDS`] and `more`.
pub async fn an_unknown_or_hostile_id_matches_nothing(
    directory: &impl UserDirectory,
    more: &[&str],
) {
    assert_eq!(
        directory.details(&user("carol")).await.expect("carol"),
        None
    );
    for id in HOSTILE_IDS.iter().chain(more) {
        assert_eq!(directory.details(&user(id)).await.expect(id), None, "{id}");
    }
}

/// A directory of no fields, on the host's `users` (with `alice`, without `carol`).
pub async fn no_fields_answers_whether_the_user_exists(directory: &impl UserDirectory) {
    assert_eq!(
        directory.details(&user("alice")).await.expect("alice"),
        Some(Map::new())
    );
    assert_eq!(
        directory.details(&user("carol")).await.expect("carol"),
        None
    );
}

/// The 120 columns of the host's table `wide`, `c0` to `c119`, whose row `w` holds
/// their numbers.
pub fn wide_columns() -> Vec<String> {
    (0..120).map(|i| format!("c{i}")).collect()
}

/// A directory of every column of `wide` (see [`wide_columns`]).
pub async fn many_fields_take_several_json_objects(directory: &impl UserDirectory) {
    let names = wide_columns();
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

/// A directory on a missing table or column (`what`): `check` fails, and so does the
/// first lookup, naming what is missing.
pub async fn a_missing_table_or_column_is_an_error<D: UserDirectory>(
    directory: &D,
    checked: Result<(), DirectoryError>,
    what: &str,
) {
    assert!(checked.is_err(), "{what}");
    let err = directory
        .details(&user("alice"))
        .await
        .expect_err("details");
    assert!(
        err.0.contains("people") || err.0.contains("user_id") || err.0.contains("nope"),
        "{err}"
    );
}

/// `new(table, id column, fields)` refuses every bad name (also each of `more`) as a
/// table (as `tables` writes it into table names), an id column or a field, and accepts
/// the good ones.
pub fn bad_names_are_refused_at_construction<T>(
    new: impl Fn(&str, &str, &[&str]) -> Result<T, DirectoryError>,
    tables: impl Fn(&str) -> Vec<String>,
    more: &[&str],
) {
    let too_long = "a".repeat(64);
    let mut bad = bad_names(&too_long);
    bad.extend_from_slice(more);
    for name in bad {
        for table in tables(name) {
            assert!(new(&table, "id", &["name"]).is_err(), "table {table:?}");
        }
        assert!(new("users", name, &["name"]).is_err(), "id {name:?}");
        assert!(
            new("users", "id", &["name", name]).is_err(),
            "field {name:?}"
        );
    }
    let longest = "a".repeat(63);
    for good in ["users", "_users", "Users_2", longest.as_str()] {
        assert!(new(good, good, &[good]).is_ok(), "{good:?}");
    }
}
