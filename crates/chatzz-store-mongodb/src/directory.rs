//! The host application's own users collection as chatzz's [`UserDirectory`]: the
//! replacement for the original package's `userModelName` option.

use async_trait::async_trait;
use chatzz_core::{DirectoryError, UserDirectory, UserId};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};
use serde_json::{Map, Value};

use crate::error::store_error;

/// The longest collection name accepted, in bytes (MongoDB's limit on a whole
/// namespace, database name included, is 255).
const MAX_COLLECTION_LEN: usize = 255;

/// Reads user details from a collection of the host application in a MongoDB database,
/// by id: `find_one({ <id field>: <user id> })` with a projection of the fields.
///
/// - The details are the configured fields, keyed by their names, as a Mongoose
///   document's `toJSON` shows them (what the original chatzz sent): numbers, strings,
///   booleans, arrays and embedded documents as themselves, an `ObjectId` as its hex
///   string, a date as an ISO-8601 string; other BSON types in relaxed extended JSON. A
///   field the document lacks is `null`, as a `NULL` column is in the SQL directories.
///   `_id` is shown only when it is one of the fields.
/// - A user is the document whose id field is the user id as a string. Hosts often
///   use other id types, so a user id that is an `ObjectId` as MongoDB writes it (24
///   lower-case hex digits) also matches that `ObjectId`, and one that is an integer
///   as written canonically (`"42"`, not `"042"`) also matches that number; all
///   candidates are one `$in`, which uses the field's index. With several matching
///   documents, the first one found is used.
/// - No fields: the document's existence is the answer (`Some` with no details).
/// - Field names (the id field included) must be non-empty and may not start with `$`
///   or contain `.` or NUL (no paths into embedded documents); the collection name
///   follows MongoDB's rules (non-empty, at most 255 bytes, no `$` or NUL, not
///   `system.*`).
/// - A missing collection simply has no users; [`check`] reports it. Any failure of the
///   database is a [`DirectoryError`].
///
/// [`check`]: MongoUserDirectory::check
#[derive(Debug, Clone)]
pub struct MongoUserDirectory {
    db: Database,
    users: Collection<Document>,
    id_field: String,
    fields: Vec<String>,
    projection: Document,
}

impl MongoUserDirectory {
    /// Connects to `url` (`mongodb://host:port/DBNAME`, any driver option in the query
    /// string) and uses the database its path names; then as [`MongoUserDirectory::new`].
    pub async fn connect(
        url: &str,
        collection: &str,
        id_field: &str,
        fields: &[&str],
    ) -> Result<Self, DirectoryError> {
        // The URL is not echoed in errors: it may hold a password.
        let options = ClientOptions::parse(url)
            .await
            .map_err(directory_error("reading the connection URL"))?;
        let Some(database) = options.default_database.clone() else {
            return Err(DirectoryError(
                "the MongoDB URL names no database: use mongodb://host:port/DBNAME".into(),
            ));
        };
        let client =
            Client::with_options(options).map_err(directory_error("creating the client"))?;
        Self::new(client.database(&database), collection, id_field, fields)
    }

    /// Reads `fields` of the document of `collection` in `db` whose `id_field` is the
    /// user id (`"_id"` for most hosts). Fails on an invalid name; a duplicate field is
    /// shown once.
    pub fn new(
        db: Database,
        collection: &str,
        id_field: &str,
        fields: &[&str],
    ) -> Result<Self, DirectoryError> {
        check_collection(collection)?;
        check_field("id field", id_field)?;
        let mut unique: Vec<String> = Vec::with_capacity(fields.len());
        for field in fields {
            check_field("field", field)?;
            if !unique.iter().any(|f| f == field) {
                unique.push((*field).to_owned());
            }
        }
        let mut projection = Document::new();
        for field in &unique {
            projection.insert(field.as_str(), 1);
        }
        if !unique.iter().any(|f| f == "_id") {
            // With no field, an inclusion of `_id` alone: `{_id: 0}` would be an
            // exclusion, returning everything else.
            projection.insert("_id", i32::from(unique.is_empty()));
        }
        Ok(Self {
            users: db.collection(collection),
            db,
            id_field: id_field.to_owned(),
            fields: unique,
            projection,
        })
    }

    /// Checks now that the server answers and the collection exists: for finding a
    /// misconfiguration at startup.
    pub async fn check(&self) -> Result<(), DirectoryError> {
        let name = self.users.name();
        let found = self
            .db
            .list_collection_names()
            .filter(doc! { "name": name })
            .await
            .map_err(directory_error("listing the collections"))?;
        if found.iter().any(|n| n == name) {
            Ok(())
        } else {
            Err(DirectoryError(format!(
                "MongoDB database {:?} has no collection {name:?} (the users collection)",
                self.db.name()
            )))
        }
    }

    /// The filter for `id`: the string, and the `ObjectId` or number it spells.
    fn filter(&self, id: &str) -> Document {
        let mut candidates = vec![Bson::String(id.to_owned())];
        if let Some(oid) = canonical_object_id(id) {
            candidates.push(Bson::ObjectId(oid));
        }
        if let Some(n) = canonical_integer(id) {
            candidates.push(Bson::Int64(n));
        }
        let id_field = self.id_field.as_str();
        if candidates.len() == 1 {
            doc! { id_field: id }
        } else {
            doc! { id_field: { "$in": candidates } }
        }
    }
}

#[async_trait]
impl UserDirectory for MongoUserDirectory {
    async fn details(&self, user: &UserId) -> Result<Option<Map<String, Value>>, DirectoryError> {
        let found = self
            .users
            .find_one(self.filter(user.as_str()))
            .projection(self.projection.clone())
            .await
            .map_err(directory_error("reading a user's details"))?;
        let Some(mut document) = found else {
            return Ok(None);
        };
        let details = self
            .fields
            .iter()
            .map(|field| {
                let value = document.remove(field).map_or(Value::Null, plain_json);
                (field.clone(), value)
            })
            .collect();
        Ok(Some(details))
    }
}

/// BSON as JSON the way Mongoose's `toJSON` writes it, recursively.
fn plain_json(value: Bson) -> Value {
    match value {
        Bson::ObjectId(id) => Value::String(id.to_hex()),
        Bson::DateTime(at) => {
            match chrono::DateTime::from_timestamp_millis(at.timestamp_millis()) {
                Some(at) => Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                None => Bson::DateTime(at).into_relaxed_extjson(),
            }
        }
        Bson::Array(items) => Value::Array(items.into_iter().map(plain_json).collect()),
        Bson::Document(doc) => {
            Value::Object(doc.into_iter().map(|(k, v)| (k, plain_json(v))).collect())
        }
        other => other.into_relaxed_extjson(),
    }
}

/// The `ObjectId` that `id` is, written as MongoDB writes one (lower-case hex).
fn canonical_object_id(id: &str) -> Option<ObjectId> {
    let canonical = id.len() == 24
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if canonical {
        ObjectId::parse_str(id).ok()
    } else {
        None
    }
}

/// The `i64` that `id` is, written canonically.
fn canonical_integer(id: &str) -> Option<i64> {
    id.parse::<i64>().ok().filter(|n| n.to_string() == id)
}

fn check_field(what: &str, name: &str) -> Result<(), DirectoryError> {
    if name.is_empty() || name.starts_with('$') || name.contains(['.', '\0']) {
        return Err(DirectoryError(format!(
            "invalid {what} name {name:?}: a MongoDB field name must be non-empty, not start with '$' and contain no '.' or NUL"
        )));
    }
    Ok(())
}

fn check_collection(name: &str) -> Result<(), DirectoryError> {
    if name.is_empty()
        || name.len() > MAX_COLLECTION_LEN
        || name.contains(['$', '\0'])
        || name.starts_with("system.")
    {
        return Err(DirectoryError(format!(
            "invalid collection name {name:?}: use 1 to {MAX_COLLECTION_LEN} bytes without '$' or NUL, not starting with \"system.\""
        )));
    }
    Ok(())
}

/// A closure for `map_err` that maps a driver error with the store's mapping.
fn directory_error(doing: &'static str) -> impl FnOnce(mongodb::error::Error) -> DirectoryError {
    move |error| DirectoryError(store_error(doing, error).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bson_shows_as_mongoose_would() {
        let id = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        let at = mongodb::bson::DateTime::from_millis(1_767_323_045_678);
        let value = plain_json(Bson::Document(doc! {
            "ref": id, "at": at, "n": 3_i64, "tags": [id], "deep": { "at": at }, "none": Bson::Null,
        }));
        assert_eq!(
            value,
            serde_json::json!({
                "ref": "65a1b2c3d4e5f60718293a4b", "at": "2026-01-02T03:04:05.678Z", "n": 3,
                "tags": ["65a1b2c3d4e5f60718293a4b"], "deep": { "at": "2026-01-02T03:04:05.678Z" }, "none": null,
            })
        );
    }

    async fn directory(id_field: &str) -> MongoUserDirectory {
        // No connection is made until a call.
        let client = Client::with_uri_str("mongodb://127.0.0.1:1")
            .await
            .unwrap_or_else(|e| panic!("client: {e}"));
        MongoUserDirectory::new(client.database("d"), "users", id_field, &["name"])
            .unwrap_or_else(|e| panic!("new: {e}"))
    }

    #[tokio::test]
    async fn the_filter_adds_the_object_id_or_number_an_id_spells() {
        let directory = directory("userId").await;
        let hex = "65a1b2c3d4e5f60718293a4b";
        let oid = ObjectId::parse_str(hex).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            directory.filter(hex),
            doc! { "userId": { "$in": [hex, oid] } }
        );
        assert_eq!(
            directory.filter("-42"),
            doc! { "userId": { "$in": ["-42", -42_i64] } }
        );
        for plain in [
            "alice",
            "65A1B2C3D4E5F60718293A4B",
            "65a1b2c3d4e5f60718293a4",
            "042",
            "+42",
            "99999999999999999999",
            "{\"$ne\": null}",
        ] {
            assert_eq!(directory.filter(plain), doc! { "userId": plain }, "{plain}");
        }
    }

    #[tokio::test]
    async fn the_projection_shows_id_only_when_asked() {
        let client = Client::with_uri_str("mongodb://127.0.0.1:1")
            .await
            .unwrap_or_else(|e| panic!("client: {e}"));
        let db = client.database("d");
        let projection = |fields: &[&str]| {
            MongoUserDirectory::new(db.clone(), "users", "_id", fields)
                .map(|d| d.projection)
                .unwrap_or_else(|e| panic!("new: {e}"))
        };
        assert_eq!(projection(&[]), doc! { "_id": 1 });
        assert_eq!(
            projection(&["a", "b", "a"]),
            doc! { "a": 1, "b": 1, "_id": 0 }
        );
        assert_eq!(projection(&["a", "_id"]), doc! { "a": 1, "_id": 1 });
    }
}
