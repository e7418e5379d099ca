//! What the host application can do itself, with the same rules and events as clients.

use chatzz_core::SendRequest;
use std::sync::Arc;

use chatzz_core::{
    ChatError, ChatService, ClientMessageId, Contact, Message, MessageId, Session, SocketId, UserId,
};
use chatzz_socketio::Broadcaster;

/// The host application's side of chatzz: send, mark read, list contacts, ask who is
/// online. Each call follows the same rules and emits the same events to connected
/// clients as the matching client event, except the per-user event rates: the host is
/// trusted. Its calls act from no socket (every socket of the user hears of them).
/// Cheap to clone.
#[derive(Clone)]
pub struct ChatzzHandle {
    service: Arc<ChatService>,
    io: Arc<dyn Broadcaster>,
    sweeper: Option<tokio::task::AbortHandle>,
}

impl std::fmt::Debug for ChatzzHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatzzHandle").finish_non_exhaustive()
    }
}

impl ChatzzHandle {
    pub(crate) fn new(
        service: Arc<ChatService>,
        io: Arc<dyn Broadcaster>,
        sweeper: Option<tokio::task::AbortHandle>,
    ) -> Self {
        Self {
            service,
            io,
            sweeper,
        }
    }

    fn session(user: &UserId) -> Session {
        Session {
            user: user.clone(),
            socket: SocketId::host(),
        }
    }

    /// Sends `text` from `from` to `to` (who must be contacts), as `send-message` does:
    /// stored first, then `new-message` to both users' sockets, `message-status-changed`
    /// when `to` is online. A `client_message_id` makes a retry safe.
    pub async fn send_message(
        &self,
        from: &UserId,
        to: &UserId,
        text: impl Into<String>,
        client_message_id: Option<&str>,
    ) -> Result<Message, ChatError> {
        let client_message_id = client_message_id.map(ClientMessageId::parse).transpose()?;
        let outcome = self
            .service
            .send(
                &Self::session(from),
                SendRequest::new(to, text, client_message_id),
            )
            .await?;
        chatzz_socketio::count_facts(outcome.facts);
        self.io.deliver(outcome.deliveries).await;
        Ok(outcome.reply)
    }

    /// Links `user` and `other`, as `add-chat-user` from `user` does.
    pub async fn add_contact(&self, user: &UserId, other: &UserId) -> Result<Contact, ChatError> {
        let outcome = self
            .service
            .add_contact(&Self::session(user), other)
            .await?;
        chatzz_socketio::count_facts(outcome.facts);
        self.io.deliver(outcome.deliveries).await;
        Ok(outcome.reply)
    }

    /// Marks a message read on behalf of its recipient `user`, as `message-read` does.
    pub async fn mark_read(
        &self,
        user: &UserId,
        message: &MessageId,
    ) -> Result<Message, ChatError> {
        let outcome = self
            .service
            .mark_read(&Self::session(user), message)
            .await?;
        chatzz_socketio::count_facts(outcome.facts);
        self.io.deliver(outcome.deliveries).await;
        Ok(outcome.reply)
    }

    /// `user`'s contacts with their presence, in the order they were added.
    pub async fn contacts(&self, user: &UserId) -> Result<Vec<Contact>, ChatError> {
        self.service.contacts(user).await
    }

    /// Whether `user` has a live socket (on any server of a cluster).
    pub async fn is_online(&self, user: &UserId) -> Result<bool, ChatError> {
        Ok(self.service.presence().is_online(user).await?)
    }

    /// How many users are online (on every server of a cluster).
    pub async fn online_users(&self) -> Result<usize, ChatError> {
        Ok(self.service.presence().online_users().await?)
    }

    /// Closes every socket of this server, announcing each user offline where it was
    /// their last, then stops sweeping presence; call it on shutdown.
    pub async fn close(&self) {
        self.io.close().await;
        if let Some(sweeper) = &self.sweeper {
            sweeper.abort();
        }
    }
}
