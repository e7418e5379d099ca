//! Opening the store a database URL names, among the adapters compiled in.

use std::sync::Arc;

use chatzz_core::{ChatStore, StoreError, StoreNames};

/// Why [`open_store`] could not open a store.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names a store this build left out.
    #[error(
        "database URL {url:?}: the `{feature}` store is not compiled in (enable the `{feature}` feature)"
    )]
    NotCompiled {
        /// The URL, without its password.
        url: String,
        /// The cargo feature that would bring the store in.
        feature: &'static str,
    },
    /// The URL's scheme names no store at all.
    #[error(
        "unsupported database URL {0:?}: expected memory:, sqlite://PATH, postgres://... or mongodb://HOST/DB"
    )]
    Unsupported(String),
    /// The store is compiled in but failed to open.
    #[error("cannot open {url:?}: {source}")]
    Store {
        /// The URL, without its password.
        url: String,
        /// What the store reported.
        source: StoreError,
    },
}

/// The URL without its password, for messages and logs.
pub(crate) fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***{}", &url[..scheme_end], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A scheme whose store this build left out. Unused when every store is compiled in.
#[allow(dead_code)]
fn not_compiled(url: &str, feature: &'static str) -> OpenError {
    OpenError::NotCompiled {
        url: redacted(url),
        feature,
    }
}

#[allow(dead_code)]
fn opened<S: ChatStore>(
    url: &str,
    result: Result<S, StoreError>,
) -> Result<Arc<dyn ChatStore>, OpenError> {
    result
        .map(|store| Arc::new(store) as Arc<dyn ChatStore>)
        .map_err(|source| OpenError::Store {
            url: redacted(url),
            source,
        })
}

/// Opens the store `url` names: `memory:`, `sqlite://PATH` (created if missing),
/// `postgres://USER@HOST/DB` or `mongodb://HOST/DB`, with chatzz's tables named by
/// `names`. Each scheme needs its cargo feature.
///
/// ```
/// # async fn run() -> Result<(), chatzz::OpenError> {
/// let store = chatzz::open_store("memory:", chatzz::StoreNames::default()).await?;
/// # drop(store); Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
pub async fn open_store(url: &str, names: StoreNames) -> Result<Arc<dyn ChatStore>, OpenError> {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme)
        .unwrap_or_default();
    let _ = &names;
    match scheme {
        "memory" => {
            #[cfg(feature = "memory")]
            return Ok(Arc::new(chatzz_store_memory::MemoryStore::new()));
            #[cfg(not(feature = "memory"))]
            return Err(not_compiled(url, "memory"));
        }
        "sqlite" => {
            #[cfg(feature = "sqlite")]
            return opened(
                url,
                chatzz_store_sqlite::SqliteStore::connect(url, names).await,
            );
            #[cfg(not(feature = "sqlite"))]
            return Err(not_compiled(url, "sqlite"));
        }
        "postgres" | "postgresql" => {
            #[cfg(feature = "postgres")]
            return opened(
                url,
                chatzz_store_postgres::PostgresStore::connect(url, names).await,
            );
            #[cfg(not(feature = "postgres"))]
            return Err(not_compiled(url, "postgres"));
        }
        "mongodb" | "mongodb+srv" => {
            #[cfg(feature = "mongodb")]
            return opened(
                url,
                chatzz_store_mongodb::MongoStore::connect(url, names).await,
            );
            #[cfg(not(feature = "mongodb"))]
            return Err(not_compiled(url, "mongodb"));
        }
        _ => Err(OpenError::Unsupported(redacted(url))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redacted("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redacted("mongodb://h:27017/db"), "mongodb://h:27017/db");
        assert_eq!(redacted("sqlite://a@b.db"), "sqlite://a@b.db");
    }

    #[cfg(not(feature = "mongodb"))]
    #[tokio::test]
    async fn a_scheme_not_compiled_in_names_its_feature() {
        let err = open_store("mongodb://u:pw@localhost/x", StoreNames::default())
            .await
            .err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("`mongodb` feature"), "{text}");
        assert!(!text.contains("pw"), "{text}");
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_refused() {
        let err = open_store("redis://x", StoreNames::default()).await.err();
        assert!(matches!(err, Some(OpenError::Unsupported(_))));
    }
}
