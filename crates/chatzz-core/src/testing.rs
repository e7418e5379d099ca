//! Test support for adapters (feature `testing`): the one conformance suite of the
//! [`ChatStore`](crate::ChatStore) port that every storage adapter runs, and
//! [`FaultyStore`](faulty::FaultyStore), a decorator that makes any store fail on demand;
//! the conformance suite of the [`PresenceRegistry`](crate::PresenceRegistry) port; and
//! that of the [`UserDirectory`](crate::UserDirectory) port.

pub mod conformance;
pub mod directory_conformance;
pub mod faulty;
pub mod presence_conformance;
