//! Opening the store a database URL names, among the adapters compiled in.

use std::sync::Arc;

use chatzz_core::ChatStore;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported database URL {0:?}: expected `memory:`")]
    Unsupported(String),
}

pub async fn open(url: &str) -> Result<Arc<dyn ChatStore>, OpenError> {
    match url.split_once(':').map(|(scheme, _)| scheme) {
        Some("memory") => Ok(Arc::new(chatzz_store_memory::MemoryStore::new())),
        _ => Err(OpenError::Unsupported(url.to_owned())),
    }
}
