//! The host application's own users table as chatzz's [`UserDirectory`]: the
//! replacement for the original package's `userModelName` option.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use chatzz_core::{DirectoryError, UserDirectory, UserId};
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Row};

use crate::store_error;

/// Connections of the pool [`SqliteUserDirectory::connect`] opens: lookups are single
/// indexed reads.
const MAX_CONNECTIONS: u32 = 2;

/// Fields per `json_object(...)` call: two arguments each, well below SQLite's limit on
/// function arguments (127 by default in older builds). More fields take more calls,
/// merged here.
const FIELDS_PER_OBJECT: usize = 50;

/// The longest table, column or field name accepted.
const MAX_IDENTIFIER_LEN: usize = 63;

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
/// [`check`]: SqliteUserDirectory::check
#[derive(Debug, Clone)]
pub struct SqliteUserDirectory {
    pool: SqlitePool,
    table: String,
    id_column: String,
    fields: Vec<String>,
    /// The lookup, with the user id as `?1`.
    query: Arc<str>,
    /// The fields declared `BOOLEAN`, once the table was checked.
    booleans: Arc<OnceLock<Vec<String>>>,
}

impl SqliteUserDirectory {
    /// Opens the existing database at `url` (`sqlite://PATH` or `sqlite:PATH`; it is
    /// never created) with a small pool of its own whose connections cannot write
    /// (`PRAGMA query_only`), then as [`SqliteUserDirectory::new`].
    pub async fn connect(
        url: &str,
        table: &str,
        id_column: &str,
        fields: &[&str],
    ) -> Result<Self, DirectoryError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| DirectoryError(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(false)
            .busy_timeout(Duration::from_secs(5))
            .pragma("query_only", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(directory_error)?;
        Self::new(pool, table, id_column, fields)
    }

    /// Reads `fields` of `table`'s row whose `id_column` is the user id, through `pool`
    /// (the host application's own pool will do). Fails on an invalid name; a duplicate
    /// field is shown once.
    pub fn new(
        pool: SqlitePool,
        table: &str,
        id_column: &str,
        fields: &[&str],
    ) -> Result<Self, DirectoryError> {
        check_identifier("table", table)?;
        check_identifier("id column", id_column)?;
        let mut unique: Vec<String> = Vec::with_capacity(fields.len());
        for field in fields {
            check_identifier("field", field)?;
            if !unique.iter().any(|f| f == field) {
                unique.push((*field).to_owned());
            }
        }
        let query = lookup_query(table, id_column, &unique).into();
        Ok(Self {
            pool,
            table: table.to_owned(),
            id_column: id_column.to_owned(),
            fields: unique,
            query,
            booleans: Arc::new(OnceLock::new()),
        })
    }

    /// Checks now that the table and every configured column exist, as the first lookup
    /// would: for finding a misconfiguration at startup.
    pub async fn check(&self) -> Result<(), DirectoryError> {
        self.booleans().await.map(drop)
    }

    /// The pool, for closing it.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The fields declared `BOOLEAN`, looked up (and the columns checked) once.
    async fn booleans(&self) -> Result<&[String], DirectoryError> {
        if let Some(known) = self.booleans.get() {
            return Ok(known);
        }
        let rows = sqlx::query("SELECT name, type FROM pragma_table_info(?1)")
            .bind(&self.table)
            .fetch_all(&self.pool)
            .await
            .map_err(directory_error)?;
        if rows.is_empty() {
            return Err(DirectoryError(format!(
                "SQLite has no table {:?} (the users table)",
                self.table
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
                        self.table
                    ))
                })
        };
        declared_type(&self.id_column)?;
        let mut booleans = Vec::new();
        for field in &self.fields {
            let declared = declared_type(field)?.trim();
            if declared.eq_ignore_ascii_case("BOOLEAN") || declared.eq_ignore_ascii_case("BOOL") {
                booleans.push(field.clone());
            }
        }
        // A concurrent first lookup may have set the same answer meanwhile.
        Ok(self.booleans.get_or_init(|| booleans))
    }
}

#[async_trait]
impl UserDirectory for SqliteUserDirectory {
    async fn details(&self, user: &UserId) -> Result<Option<Map<String, Value>>, DirectoryError> {
        let booleans = self.booleans().await?;
        let row = sqlx::query(AssertSqlSafe(Arc::clone(&self.query)))
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(directory_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut details = Map::new();
        for column in 0..row.len() {
            let text: String = row.try_get(column).map_err(directory_error)?;
            match serde_json::from_str(&text) {
                Ok(Value::Object(part)) => details.extend(part),
                Ok(other) => {
                    return Err(DirectoryError(format!(
                        "SQLite json_object gave {other}, not an object"
                    )));
                }
                Err(e) => return Err(DirectoryError(format!("SQLite gave bad JSON: {e}"))),
            }
        }
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
    let objects: Vec<String> = if fields.is_empty() {
        vec!["json_object()".to_owned()]
    } else {
        fields
            .chunks(FIELDS_PER_OBJECT)
            .map(|chunk| {
                let pairs: Vec<String> = chunk
                    .iter()
                    .map(|f| format!("'{f}', \"{table}\".\"{f}\""))
                    .collect();
                format!("json_object({})", pairs.join(", "))
            })
            .collect()
    };
    let columns: Vec<String> = objects
        .iter()
        .enumerate()
        .map(|(i, object)| format!("{object} AS j{i}"))
        .collect();
    let id = format!("\"{table}\".\"{id_column}\"");
    format!(
        "SELECT {} FROM \"{table}\" WHERE {id} = ?1 AND CAST({id} AS TEXT) = ?1 LIMIT 1",
        columns.join(", ")
    )
}

/// Whether `name` may go into SQL: 1 to 63 ASCII letters, digits or underscores, not
/// starting with a digit.
fn check_identifier(what: &str, name: &str) -> Result<(), DirectoryError> {
    let valid = (1..=MAX_IDENTIFIER_LEN).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if valid {
        Ok(())
    } else {
        Err(DirectoryError(format!(
            "invalid {what} name {name:?}: use 1 to {MAX_IDENTIFIER_LEN} ASCII letters, digits or underscores, not starting with a digit"
        )))
    }
}

fn directory_error(err: sqlx::Error) -> DirectoryError {
    DirectoryError(store_error(err).to_string())
}
