//! Offline notifications: the host application's [`Notifier`] (a trait, or a closure
//! with [`ClosureNotifier`]), the background task that hands it what the store owes,
//! and, with the `webhooks` feature, signed webhooks ([`WebhookNotifier`]).

mod closure;
mod dispatcher;
#[cfg(feature = "webhooks")]
mod webhook;

pub use closure::ClosureNotifier;

/// How long one webhook delivery may take before it counts as failed.
#[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
pub(crate) const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
pub(crate) use dispatcher::{DispatchSettings, spawn_dispatcher};
#[cfg(feature = "webhooks")]
pub use webhook::{WebhookError, WebhookNotifier, sign};
