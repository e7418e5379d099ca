//! The host application's own users table as chatzz's [`UserDirectory`] (the
//! replacement for the original package's `userModelName` option), written once for
//! every SQL dialect ([`SqlUserDirectory`]): the names it accepts, its construction, the
//! table learnt once on first use, the lookup's columns of JSON objects and their merge
//! into a user's details. A [`DirectoryDialect`] supplies the SQL and how a lookup binds
//! the user id.

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use chatzz_core::{DirectoryError, UserDirectory, UserId};
use serde_json::{Map, Value};
use sqlx::{ColumnIndex, Database, Decode, Pool, Row, Type};

use crate::Dialect;

/// One SQL database's part of a [`SqlUserDirectory`].
pub trait DirectoryDialect: Debug + Send + Sync + Sized + 'static {
    /// The sqlx driver.
    type Db: Database;
    /// What the first lookup learns of the table (and checks).
    type Known: Debug + Send + Sync + 'static;

    /// A small pool of the directory's own for `url`.
    fn open(url: &str) -> impl Future<Output = Result<Pool<Self::Db>, DirectoryError>> + Send;

    /// The table, validated, as the statements name it.
    fn table(table: &str) -> Result<String, DirectoryError>;

    /// The statement made at construction, from the table (as [`table`](Self::table)
    /// gave it), the id column and the fields (validated, each once).
    fn statement(table: &str, id_column: &str, fields: &[String]) -> String;

    /// Looks the table up: checks that it and its columns exist.
    fn learn(
        directory: &SqlUserDirectory<Self>,
    ) -> impl Future<Output = Result<Self::Known, DirectoryError>> + Send;

    /// What [`SqlUserDirectory::check`] checks once the table is known.
    fn check(
        directory: &SqlUserDirectory<Self>,
        known: &Self::Known,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;

    /// The details of `user`, if there is such a user.
    fn details(
        directory: &SqlUserDirectory<Self>,
        known: &Self::Known,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<Map<String, Value>>, DirectoryError>> + Send;
}

/// Reads user details from a table of the host application, by id (see each dialect's
/// alias for what it reads and how it matches ids).
#[derive(Debug)]
pub struct SqlUserDirectory<L: DirectoryDialect> {
    pool: Pool<L::Db>,
    table: String,
    id_column: String,
    fields: Vec<String>,
    statement: Arc<str>,
    known: Arc<OnceLock<L::Known>>,
}

impl<L: DirectoryDialect> Clone for SqlUserDirectory<L> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            table: self.table.clone(),
            id_column: self.id_column.clone(),
            fields: self.fields.clone(),
            statement: Arc::clone(&self.statement),
            known: Arc::clone(&self.known),
        }
    }
}

impl<L: DirectoryDialect> SqlUserDirectory<L> {
    /// Opens `url` with a small pool of its own (see the dialect), then as
    /// [`new`](Self::new).
    pub async fn connect(
        url: &str,
        table: &str,
        id_column: &str,
        fields: &[&str],
    ) -> Result<Self, DirectoryError> {
        Self::new(L::open(url).await?, table, id_column, fields)
    }

    /// Reads `fields` of `table`'s row whose `id_column` is the user id, through `pool`
    /// (the host application's own pool will do). Fails on an invalid name; a duplicate
    /// field is shown once.
    pub fn new(
        pool: Pool<L::Db>,
        table: &str,
        id_column: &str,
        fields: &[&str],
    ) -> Result<Self, DirectoryError> {
        let table = L::table(table)?;
        check_identifier("id column", id_column)?;
        let fields = unique_fields(fields)?;
        let statement = L::statement(&table, id_column, &fields).into();
        Ok(Self {
            pool,
            table,
            id_column: id_column.to_owned(),
            fields,
            statement,
            known: Arc::new(OnceLock::new()),
        })
    }

    /// Checks now that the table and every configured column exist, as the first lookup
    /// would: for finding a misconfiguration at startup.
    pub async fn check(&self) -> Result<(), DirectoryError> {
        let known = self.known().await?;
        L::check(self, known).await
    }

    /// The pool, for closing it.
    pub fn pool(&self) -> &Pool<L::Db> {
        &self.pool
    }

    /// The table, as [`DirectoryDialect::table`] gave it.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The id column, as given.
    pub fn id_column(&self) -> &str {
        &self.id_column
    }

    /// The fields, each once.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// The statement [`DirectoryDialect::statement`] made.
    pub fn statement(&self) -> &Arc<str> {
        &self.statement
    }

    /// What the first lookup learnt of the table, learnt once.
    async fn known(&self) -> Result<&L::Known, DirectoryError> {
        if let Some(known) = self.known.get() {
            return Ok(known);
        }
        let known = L::learn(self).await?;
        // A concurrent first lookup may have set the same answer meanwhile.
        Ok(self.known.get_or_init(|| known))
    }
}

#[async_trait]
impl<L: DirectoryDialect> UserDirectory for SqlUserDirectory<L> {
    async fn details(&self, user: &UserId) -> Result<Option<Map<String, Value>>, DirectoryError> {
        let known = self.known().await?;
        L::details(self, known, user).await
    }
}

/// A driver error as a directory error, classified as the store classifies it.
pub fn error<D: Dialect>(err: sqlx::Error) -> DirectoryError {
    DirectoryError(D::store_error(err).to_string())
}

/// The longest table, column or field name accepted (PostgreSQL's own limit).
pub const MAX_IDENTIFIER_LEN: usize = 63;

/// Fields per JSON object call: two arguments each, within PostgreSQL's limit of 100
/// function arguments and below SQLite's (127 by default in older builds). More fields
/// take more calls, merged by [`details`].
pub const FIELDS_PER_OBJECT: usize = 50;

/// Whether `name` may go into SQL: 1 to 63 ASCII letters, digits or underscores, not
/// starting with a digit.
pub fn check_identifier(what: &str, name: &str) -> Result<(), DirectoryError> {
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

/// `fields`, each checked, a duplicate kept once.
pub fn unique_fields(fields: &[&str]) -> Result<Vec<String>, DirectoryError> {
    let mut unique: Vec<String> = Vec::with_capacity(fields.len());
    for field in fields {
        check_identifier("field", field)?;
        if !unique.iter().any(|f| f == field) {
            unique.push((*field).to_owned());
        }
    }
    Ok(unique)
}

/// `{function}('f', {value of f}, ...){cast} AS j0, ...`: the lookup's columns, one
/// JSON object per [`FIELDS_PER_OBJECT`] fields (one empty object without fields).
pub fn json_columns(
    fields: &[String],
    function: &str,
    value: impl Fn(&str) -> String,
    cast: &str,
) -> String {
    let objects: Vec<String> = if fields.is_empty() {
        vec![format!("{function}()")]
    } else {
        fields
            .chunks(FIELDS_PER_OBJECT)
            .map(|chunk| {
                let pairs: Vec<String> = chunk
                    .iter()
                    .map(|f| format!("'{f}', {}", value(f)))
                    .collect();
                format!("{function}({})", pairs.join(", "))
            })
            .collect()
    };
    let columns: Vec<String> = objects
        .iter()
        .enumerate()
        .map(|(i, object)| format!("{object}{cast} AS j{i}"))
        .collect();
    columns.join(", ")
}

/// The details in `row`: every column a JSON object as text (`database`'s `function`
/// made them), merged.
pub fn details<R: Row>(
    row: &R,
    database: &str,
    function: &str,
    error: impl Fn(sqlx::Error) -> DirectoryError,
) -> Result<Map<String, Value>, DirectoryError>
where
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    R::Database: Database,
{
    let mut details = Map::new();
    for column in 0..row.len() {
        let text: String = row.try_get(column).map_err(&error)?;
        match serde_json::from_str(&text) {
            Ok(Value::Object(part)) => details.extend(part),
            Ok(other) => {
                return Err(DirectoryError(format!(
                    "{database} {function} gave {other}, not an object"
                )));
            }
            Err(e) => return Err(DirectoryError(format!("{database} gave bad JSON: {e}"))),
        }
    }
    Ok(details)
}
