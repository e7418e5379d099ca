//! Opening the store a database URL names, among the adapters compiled in.

use std::sync::Arc;

use chatzz_core::{ChatStore, StoreError, StoreNames};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "database URL {url:?}: the `{feature}` store is not compiled in (build with `--features {feature}`)"
    )]
    NotCompiled { url: String, feature: &'static str },
    #[error(
        "unsupported database URL {0:?}: expected memory:, sqlite://PATH, postgres://... or mongodb://.../DB"
    )]
    Unsupported(String),
    #[error("cannot open {url:?}: {source}")]
    Store { url: String, source: StoreError },
}

/// Opens the store for `url`: `memory:`, `sqlite://PATH` (or `sqlite:PATH`).
pub async fn open(url: &str, names: StoreNames) -> Result<Arc<dyn ChatStore>, OpenError> {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme)
        .unwrap_or_default();
    let not_compiled = |feature| OpenError::NotCompiled {
        url: url.to_owned(),
        feature,
    };
    let _ = &names;
    match scheme {
        "memory" => {
            #[cfg(feature = "memory")]
            return Ok(Arc::new(chatzz_store_memory::MemoryStore::new()));
            #[cfg(not(feature = "memory"))]
            return Err(not_compiled("memory"));
        }
        "sqlite" => {
            #[cfg(feature = "sqlite")]
            return chatzz_store_sqlite::SqliteStore::connect(url, names)
                .await
                .map(|store| Arc::new(store) as Arc<dyn ChatStore>)
                .map_err(|source| OpenError::Store {
                    url: url.to_owned(),
                    source,
                });
            #[cfg(not(feature = "sqlite"))]
            return Err(not_compiled("sqlite"));
        }
        "postgres" | "postgresql" => Err(not_compiled("postgres")),
        "mongodb" | "mongodb+srv" => Err(not_compiled("mongodb")),
        _ => Err(OpenError::Unsupported(url.to_owned())),
    }
}
