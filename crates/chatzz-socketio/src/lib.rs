//! The Socket.IO transport of chatzz, on socketioxide: it decodes each client event
//! ([`requests`]), runs the matching use case of [`chatzz_core::ChatService`] in the
//! order the socket sent its events ([`connection`]), and emits the outcome: deliveries
//! to users' rooms, then the reply, as an ack or an event ([`reply`]). It decides
//! nothing itself. Generic over the socketioxide adapter, so several nodes can share
//! rooms through one.

mod client_event;
mod connection;
mod handlers;
mod handshake;
mod host;
mod outbound;
mod reply;
pub mod requests;

pub use handlers::{TransportLimits, attach};
pub use host::{Broadcaster, spawn_presence_sweeper};
pub use reply::{EVENT, count_facts, deliver_from_host, user_room};
