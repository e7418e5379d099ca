//! The host application's own users table as chatzz's [`UserDirectory`]: the
//! replacement for the original package's `userModelName` option.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use chatzz_core::{DirectoryError, UserDirectory, UserId};
use serde_json::{Map, Value};
use sqlx::postgres::PgPool;
use sqlx::{AssertSqlSafe, Row};

use crate::store_error;

/// Connections of the pool [`PostgresUserDirectory::connect`] opens: lookups are single
/// indexed reads.
const MAX_CONNECTIONS: u32 = 4;

/// Fields per `json_build_object(...)` call: two arguments each, within PostgreSQL's
/// limit of 100 function arguments. More fields take more calls, merged here.
const FIELDS_PER_OBJECT: usize = 50;

/// The longest table, column or field name accepted (PostgreSQL's own limit).
const MAX_IDENTIFIER_LEN: usize = 63;

/// The id column's type (its domain's base type), by the id column; `NULL` without the
/// table, no row without the column.
const ID_TYPE: &str = "SELECT to_regclass($1) IS NOT NULL AS found, \
     (SELECT format_type(COALESCE(NULLIF(t.typbasetype, 0), t.oid), NULL) \
      FROM pg_attribute AS a JOIN pg_type AS t ON t.oid = a.atttypid \
      WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 \
      AND NOT a.attisdropped) AS id_type";

/// Reads user details from a table of the host application in a PostgreSQL database, by
/// id: `SELECT json_build_object('name', "name", ...)::text FROM "users" WHERE "id" = $1`.
///
/// - The details are the configured columns, keyed by the names as given, as
///   `json_build_object` shows them: numbers, booleans, strings, `null`, timestamps as
///   ISO 8601 strings, `json`/`jsonb` columns embedded.
/// - A user is the row whose id column, as text, is the user id, so any id type works.
///   The id column's type is looked up once, on first use: a `text` or `varchar` column
///   is compared directly; a `smallint`, `integer` or `bigint` column is compared with
///   the user id as a number when it is one written canonically (`"42"`, not `"042"`),
///   and otherwise matches nothing; a `uuid` column likewise with canonical (lower-case,
///   hyphenated) uuids. Those use the column's index. A column of any other type is
///   compared as `"id"::text = $1`, which **cannot use an index on it**: give such a
///   table an expression index on `("id"::text)`, or point the directory at a text id.
///   With several matching rows, the first one found is used.
/// - No fields: the row's existence is the answer (`Some` with no details).
/// - Names must be 1 to 63 ASCII letters, digits or underscores, not starting with a
///   digit (they go into the SQL, quoted); the table may be `schema.table`. Quoted names
///   are case-sensitive in PostgreSQL: give them as stored (unquoted `CREATE TABLE`
///   names are stored in lower case).
/// - A missing table or column is a [`DirectoryError`] on first use (and from
///   [`check`]), as is any database failure.
///
/// [`check`]: PostgresUserDirectory::check
#[derive(Debug, Clone)]
pub struct PostgresUserDirectory {
    pool: PgPool,
    /// `"schema"."table"` or `"table"`.
    table: String,
    id_column: String,
    /// `SELECT json_build_object(...)::text AS j0, ... FROM "table"`.
    select: String,
    /// How the id is compared, and the finished statement, once the id type is known.
    lookup: Arc<OnceLock<Lookup>>,
}

#[derive(Debug)]
struct Lookup {
    id: IdType,
    /// The statement, with the user id (as `IdType` binds it) as `$1`.
    sql: Arc<str>,
}

/// How the user id is bound, by the id column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdType {
    /// `"id" = $1` with the id as text.
    Text,
    /// `"id" = $1` with the id as a `bigint`, if it is one.
    Integer,
    /// `"id" = $1::uuid` with the id as text, if it is a canonical uuid.
    Uuid,
    /// `"id"::text = $1`: no index.
    Cast,
}

impl IdType {
    fn of(column_type: &str) -> Self {
        match column_type {
            "text" | "character varying" => Self::Text,
            "smallint" | "integer" | "bigint" => Self::Integer,
            "uuid" => Self::Uuid,
            _ => Self::Cast,
        }
    }

    fn condition(self, id: &str) -> String {
        match self {
            Self::Text | Self::Integer => format!("{id} = $1"),
            Self::Uuid => format!("{id} = $1::uuid"),
            Self::Cast => format!("{id}::text = $1"),
        }
    }
}

impl PostgresUserDirectory {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`)
    /// with a small pool of its own, then as [`PostgresUserDirectory::new`].
    pub async fn connect(
        url: &str,
        table: &str,
        id_column: &str,
        fields: &[&str],
    ) -> Result<Self, DirectoryError> {
        let pool = crate::connect_pool(url, MAX_CONNECTIONS)
            .await
            .map_err(|e| DirectoryError(e.to_string()))?;
        Self::new(pool, table, id_column, fields)
    }

    /// Reads `fields` of `table`'s row whose `id_column` is the user id, through `pool`
    /// (the host application's own pool will do). Fails on an invalid name; a duplicate
    /// field is shown once.
    pub fn new(
        pool: PgPool,
        table: &str,
        id_column: &str,
        fields: &[&str],
    ) -> Result<Self, DirectoryError> {
        let table = quoted_table(table)?;
        check_identifier("id column", id_column)?;
        let mut unique: Vec<&str> = Vec::with_capacity(fields.len());
        for field in fields {
            check_identifier("field", field)?;
            if !unique.contains(field) {
                unique.push(field);
            }
        }
        let select = select(&table, &unique);
        Ok(Self {
            pool,
            table,
            id_column: id_column.to_owned(),
            select,
            lookup: Arc::new(OnceLock::new()),
        })
    }

    /// Checks now that the table and every configured column exist, as the first lookup
    /// would: for finding a misconfiguration at startup.
    pub async fn check(&self) -> Result<(), DirectoryError> {
        self.lookup().await?;
        sqlx::query(AssertSqlSafe(format!("{} LIMIT 0", self.select)))
            .execute(&self.pool)
            .await
            .map_err(directory_error)
            .map(drop)
    }

    /// The pool, for closing it.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The statement for the id column's type, looked up once.
    async fn lookup(&self) -> Result<&Lookup, DirectoryError> {
        if let Some(known) = self.lookup.get() {
            return Ok(known);
        }
        let row = sqlx::query(ID_TYPE)
            .bind(&self.table)
            .bind(&self.id_column)
            .fetch_one(&self.pool)
            .await
            .map_err(directory_error)?;
        let found: bool = row.try_get("found").map_err(directory_error)?;
        let id_type: Option<String> = row.try_get("id_type").map_err(directory_error)?;
        let id_type = match (found, id_type) {
            (false, _) => {
                return Err(DirectoryError(format!(
                    "PostgreSQL has no table {} (the users table)",
                    self.table
                )));
            }
            (true, None) => {
                return Err(DirectoryError(format!(
                    "PostgreSQL table {} has no column \"{}\"",
                    self.table, self.id_column
                )));
            }
            (true, Some(id_type)) => IdType::of(&id_type),
        };
        let condition = id_type.condition(&format!("\"{}\"", self.id_column));
        let sql = format!("{} WHERE {condition} LIMIT 1", self.select);
        // A concurrent first lookup may have set the same answer meanwhile.
        Ok(self.lookup.get_or_init(|| Lookup {
            id: id_type,
            sql: sql.into(),
        }))
    }
}

#[async_trait]
impl UserDirectory for PostgresUserDirectory {
    async fn details(&self, user: &UserId) -> Result<Option<Map<String, Value>>, DirectoryError> {
        let lookup = self.lookup().await?;
        let id = user.as_str();
        let query = sqlx::query(AssertSqlSafe(Arc::clone(&lookup.sql)));
        let query = match lookup.id {
            IdType::Text | IdType::Cast => query.bind(id),
            IdType::Integer => match canonical_integer(id) {
                Some(n) => query.bind(n),
                None => return Ok(None),
            },
            IdType::Uuid if is_canonical_uuid(id) => query.bind(id),
            IdType::Uuid => return Ok(None),
        };
        let row = query
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
                        "PostgreSQL json_build_object gave {other}, not an object"
                    )));
                }
                Err(e) => return Err(DirectoryError(format!("PostgreSQL gave bad JSON: {e}"))),
            }
        }
        Ok(Some(details))
    }
}

/// `SELECT json_build_object('f', "f", ...)::text AS j0, ... FROM table`.
fn select(table: &str, fields: &[&str]) -> String {
    let objects: Vec<String> = if fields.is_empty() {
        vec!["json_build_object()".to_owned()]
    } else {
        fields
            .chunks(FIELDS_PER_OBJECT)
            .map(|chunk| {
                let pairs: Vec<String> = chunk.iter().map(|f| format!("'{f}', \"{f}\"")).collect();
                format!("json_build_object({})", pairs.join(", "))
            })
            .collect()
    };
    let columns: Vec<String> = objects
        .iter()
        .enumerate()
        .map(|(i, object)| format!("{object}::text AS j{i}"))
        .collect();
    format!("SELECT {} FROM {table}", columns.join(", "))
}

/// `n` if `id` is an `i64` written as Rust (and PostgreSQL) writes it.
fn canonical_integer(id: &str) -> Option<i64> {
    id.parse::<i64>().ok().filter(|n| n.to_string() == id)
}

/// Whether `id` is a uuid written as PostgreSQL writes one: lower-case, hyphenated.
fn is_canonical_uuid(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// `"table"` or `"schema"."table"`, from a validated `table` or `schema.table`.
fn quoted_table(table: &str) -> Result<String, DirectoryError> {
    match table.split_once('.') {
        Some((schema, name)) => {
            check_identifier("schema", schema)?;
            check_identifier("table", name)?;
            Ok(format!("\"{schema}\".\"{name}\""))
        }
        None => {
            check_identifier("table", table)?;
            Ok(format!("\"{table}\""))
        }
    }
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
