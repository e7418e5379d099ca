//! Test support for adapters (feature `testing`): the one conformance suite of the
//! [`ChatStore`](crate::ChatStore) port that every storage adapter runs.

pub mod conformance;
