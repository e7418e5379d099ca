//! The store conformance suite on the memory store (the use cases over it are tested
//! in `chatzz-service-tests`).

use super::MemoryStore;

chatzz_core::chat_store_conformance!(|| async { MemoryStore::new() });
