//! Tests of the use cases (`chatzz_core::ChatService`) over real stores rather than mocks;
//! this library is empty, the tests are in `tests/`:
//!
//! - `tests/model.rs`: state-machine tests over the memory store, checked after every
//!   step against a small model of what `docs/protocol.md` promises;
//! - `tests/faults.rs`: the use cases over `FaultyStore<MemoryStore>`, a store that
//!   fails on demand.
//!
//! They live in a crate of their own because `chatzz-core` cannot take the memory store as
//! a dev-dependency: that would build a second copy of `chatzz-core`'s types. The use
//! cases' tests against mocked ports are beside the service, in
//! `chatzz-core/src/service/tests/`.
