//! The host application's own users table as chatzz's [`UserDirectory`]: the
//! replacement for the original package's `userModelName` option.

use std::sync::Arc;

use chatzz_core::{DirectoryError, UserId};
use chatzz_store_sql::directory::{
    DirectoryDialect, SqlUserDirectory, check_identifier, details, json_columns,
};
use serde_json::{Map, Value};
use sqlx::postgres::{PgPool, Postgres};
use sqlx::{AssertSqlSafe, Row};

use crate::PostgresDialect;

/// Connections of the pool [`PostgresUserDirectory::connect`] opens: lookups are single
/// indexed reads.
const MAX_CONNECTIONS: u32 = 4;

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
/// - [`connect`] connects to `url` (`postgres://user:password@host:port/database`) with
///   a small pool of its own.
///
/// [`connect`]: PostgresUserDirectory::connect
pub type PostgresUserDirectory = SqlUserDirectory<PostgresDirectory>;

/// PostgreSQL's part of [`PostgresUserDirectory`].
#[derive(Debug)]
pub struct PostgresDirectory;

/// How the id is compared, and the finished statement, once the id type is known.
#[derive(Debug)]
pub struct Lookup {
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

impl DirectoryDialect for PostgresDirectory {
    type Db = Postgres;
    type Known = Lookup;

    async fn open(url: &str) -> Result<PgPool, DirectoryError> {
        crate::connect_pool(url, MAX_CONNECTIONS)
            .await
            .map_err(|e| DirectoryError(e.to_string()))
    }

    fn table(table: &str) -> Result<String, DirectoryError> {
        quoted_table(table)
    }

    /// `SELECT json_build_object(...)::text AS j0, ... FROM "table"`.
    fn statement(table: &str, _: &str, fields: &[String]) -> String {
        select(table, fields)
    }

    /// The statement for the id column's type.
    async fn learn(directory: &PostgresUserDirectory) -> Result<Lookup, DirectoryError> {
        let row = sqlx::query(ID_TYPE)
            .bind(directory.table())
            .bind(directory.id_column())
            .fetch_one(directory.pool())
            .await
            .map_err(directory_error)?;
        let found: bool = row.try_get("found").map_err(directory_error)?;
        let id_type: Option<String> = row.try_get("id_type").map_err(directory_error)?;
        let id_type = match (found, id_type) {
            (false, _) => {
                return Err(DirectoryError(format!(
                    "PostgreSQL has no table {} (the users table)",
                    directory.table()
                )));
            }
            (true, None) => {
                return Err(DirectoryError(format!(
                    "PostgreSQL table {} has no column \"{}\"",
                    directory.table(),
                    directory.id_column()
                )));
            }
            (true, Some(id_type)) => IdType::of(&id_type),
        };
        let condition = id_type.condition(&format!("\"{}\"", directory.id_column()));
        let sql = format!("{} WHERE {condition} LIMIT 1", directory.statement());
        Ok(Lookup {
            id: id_type,
            sql: sql.into(),
        })
    }

    /// Every configured column exists.
    async fn check(directory: &PostgresUserDirectory, _: &Lookup) -> Result<(), DirectoryError> {
        sqlx::query(AssertSqlSafe(format!("{} LIMIT 0", directory.statement())))
            .execute(directory.pool())
            .await
            .map_err(directory_error)
            .map(drop)
    }

    async fn details(
        directory: &PostgresUserDirectory,
        lookup: &Lookup,
        user: &UserId,
    ) -> Result<Option<Map<String, Value>>, DirectoryError> {
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
            .fetch_optional(directory.pool())
            .await
            .map_err(directory_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let details = details(&row, "PostgreSQL", "json_build_object", directory_error)?;
        Ok(Some(details))
    }
}

/// `SELECT json_build_object('f', "f", ...)::text AS j0, ... FROM table`.
fn select(table: &str, fields: &[String]) -> String {
    let columns = json_columns(
        fields,
        "json_build_object",
        |f| format!("\"{f}\""),
        "::text",
    );
    format!("SELECT {columns} FROM {table}")
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

fn directory_error(err: sqlx::Error) -> DirectoryError {
    chatzz_store_sql::directory::error::<PostgresDialect>(err)
}
