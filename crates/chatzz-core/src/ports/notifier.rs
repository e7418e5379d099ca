use async_trait::async_trait;

use crate::notification::Notification;

/// The host application did not accept a notification (its receiver answered with an
/// error, timed out, refused the connection): it is tried again later.
#[derive(Debug, thiserror::Error)]
#[error("notification not accepted: {0}")]
pub struct NotifyError(pub String);

/// How the host application hears of messages its recipients did not get live (to send
/// a push notification, an e-mail): the binary's webhooks, or the host's own code.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// Hands `notification` over; `Ok` means accepted, and it is never offered again.
    /// Called at least once per notification, possibly more (a server that dies
    /// between acceptance and recording it; receivers deduplicate by
    /// [`Notification::id`]), one at a time per recipient, in the order the messages
    /// were stored. Errors: [`NotifyError`] when not accepted; it is retried.
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError>;
}
