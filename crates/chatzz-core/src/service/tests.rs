//! The use cases against mocked ports: every rule of `docs/protocol.md` that the core
//! decides, with `.times(n)` / `.never()` proving what is and is not called. One file per
//! use case, as in `service/`; what they share is in `support`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod blocking;
mod cluster_news;
mod config;
mod connect;
mod contacts;
mod disconnect;
mod edit;
mod history;
mod notify;
mod read;
mod send;
mod support;
mod sweep;
mod typing;
