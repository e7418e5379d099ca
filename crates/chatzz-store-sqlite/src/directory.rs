//! The host application's own users table as chatzz's [`UserDirectory`]: the
//! replacement for the original package's `userModelName` option.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chatzz_core::{DirectoryError, UserId};
use chatzz_store_sql::directory::{
    DirectoryDialect, SqlUserDirectory, check_identifier, details, json_columns,
};
use serde_json::{Map, Value};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Row};

use crate::SqliteDialect;

/// Connections of the pool [`SqliteUserDirectory::connect`] opens: lookups are single
/// indexed reads.
const MAX_CONNECTIONS: u32 = 2;

/// Reads user details from a table of the host application in an SQLite database, by id:
/// `SELECT json_object('name', "name", ...) FROM "users" WHERE "id" = ?`.
///
/// - The details are the configured columns, keyed by the names as given. Their JSON
///   types follow the stored values (integer and real numbers, text strings, `NULL`
///   `null`); columns declared `BOOLEAN` (or `BOOL`) give `true`/`false` for their
///   0/1. A `BLOB` value cannot be shown and makes the lookup fail.
/// - A user is the row whose id column equals the user id as text, so any id type
///   works: an `INTEGER` id column (the index is still used) matches the user id `"42"`
///   but not `"042"` or `"42.0"`. With several matching rows, the first one is used.
/// - No fields: the row's existence is the answer (`Some` with no details).
/// - Names must be 1 to 63 ASCII letters, digits or underscores, not starting with a
///   digit (they go into the SQL, quoted); SQLite compares them case-insensitively.
/// - The table and its columns are checked on first use (and by [`check`]); a missing
///   one is a [`DirectoryError`], as is any database failure.
///
/// - [`connect`] opens the existing database at `url` (`sqlite://PATH` or
///   `sqlite:PATH`; it is never created) with a small pool of its own whose connections
///   cannot write (`PRAGMA query_only`).
///
/// [`check`]: SqliteUserDirectory::check
/// [`connect`]: SqliteUserDirectory::connect
pub type SqliteUserDirectory = SqlUserDirectory<SqliteDirectory>;

/// SQLite's part of [`SqliteUserDirectory`].
#[derive(Debug)]
pub struct SqliteDirectory;

impl DirectoryDialect for SqliteDirectory {
    type Db = Sqlite;
    /// The fields declared `BOOLEAN`.
    type Known = Vec<String>;

    async fn open(url: &str) -> Result<SqlitePool, DirectoryError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| DirectoryError(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(false)
            .busy_timeout(Duration::from_secs(5))
            .pragma("query_only", "ON");
        SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(directory_error)
    }

    fn table(table: &str) -> Result<String, DirectoryError> {
        check_identifier("table", table)?;
        Ok(table.to_owned())
    }

    fn statement(table: &str, id_column: &str, fields: &[String]) -> String {
        lookup_query(table, id_column, fields)
    }

    /// The fields declared `BOOLEAN`; checks the columns.
    async fn learn(directory: &SqliteUserDirectory) -> Result<Vec<String>, DirectoryError> {
        let rows = sqlx::query("SELECT name, type FROM pragma_table_info(?1)")
            .bind(directory.table())
            .fetch_all(directory.pool())
            .await
            .map_err(directory_error)?;
        if rows.is_empty() {
            return Err(DirectoryError(format!(
                "SQLite has no table {:?} (the users table)",
                directory.table()
            )));
        }
        let mut columns = Vec::with_capacity(rows.len());
        for row in &rows {
            let name: String = row.try_get("name").map_err(directory_error)?;
            let declared: String = row.try_get("type").map_err(directory_error)?;
            columns.push((name, declared));
        }
        let declared_type = |wanted: &str| {
            columns
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
                .map(|(_, declared)| declared.as_str())
                .ok_or_else(|| {
                    DirectoryError(format!(
                        "SQLite table {:?} has no column {wanted:?}",
                        directory.table()
                    ))
                })
        };
        declared_type(directory.id_column())?;
        let mut booleans = Vec::new();
        for field in directory.fields() {
            let declared = declared_type(field)?.trim();
            if declared.eq_ignore_ascii_case("BOOLEAN") || declared.eq_ignore_ascii_case("BOOL") {
                booleans.push(field.clone());
            }
        }
        Ok(booleans)
    }

    /// Nothing beyond the columns.
    async fn check(_: &SqliteUserDirectory, _: &Vec<String>) -> Result<(), DirectoryError> {
        Ok(())
    }

    async fn details(
        directory: &SqliteUserDirectory,
        booleans: &Vec<String>,
        user: &UserId,
    ) -> Result<Option<Map<String, Value>>, DirectoryError> {
        let row = sqlx::query(AssertSqlSafe(Arc::clone(directory.statement())))
            .bind(user.as_str())
            .fetch_optional(directory.pool())
            .await
            .map_err(directory_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut details = details(&row, "SQLite", "json_object", directory_error)?;
        for field in booleans {
            if let Some(value) = details.get_mut(field)
                && let Some(number) = value.as_f64()
            {
                *value = Value::Bool(number != 0.0);
            }
        }
        Ok(Some(details))
    }
}

/// `SELECT json_object(...) AS j0, ... FROM "t" WHERE "t"."id" = ?1 AND CAST(... AS TEXT) = ?1`.
///
/// Columns are qualified with the table: SQLite takes an unqualified double-quoted name
/// that matches no column for a string literal, a qualified one never. The first
/// comparison uses the id column's affinity (and its index), the second makes the match
/// exact for numeric columns (`"042"` is not the user 42).
fn lookup_query(table: &str, id_column: &str, fields: &[String]) -> String {
    let columns = json_columns(
        fields,
        "json_object",
        |f| format!("\"{table}\".\"{f}\""),
        "",
    );
    let id = format!("\"{table}\".\"{id_column}\"");
    format!("SELECT {columns} FROM \"{table}\" WHERE {id} = ?1 AND CAST({id} AS TEXT) = ?1 LIMIT 1")
}

fn directory_error(err: sqlx::Error) -> DirectoryError {
    chatzz_store_sql::directory::error::<SqliteDialect>(err)
}
