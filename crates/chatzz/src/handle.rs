//! What the host application can do itself, with the same rules and events as clients.

use chatzz_core::SendRequest;
use std::sync::Arc;

use chatzz_core::{
    ChatError, ChatService, ClientMessageId, Contact, Message, MessageId, Session, SocketId, UserId,
};
use chatzz_socketio::Broadcaster;

/// The host application's side of chatzz: send, mark read, edit and delete, list
/// contacts, ask who is online. Each call follows the same rules and emits the same
/// events to connected clients as the matching client event, except the per-user event
/// rates: the host is trusted. Its calls act from no socket (every socket of the user
/// hears of them). Cheap to clone.
#[derive(Clone)]
pub struct ChatzzHandle {
    service: Arc<ChatService>,
    io: Arc<dyn Broadcaster>,
    sweeper: Option<tokio::task::AbortHandle>,
    dispatcher: Option<tokio::task::AbortHandle>,
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
            dispatcher: None,
        }
    }

    /// Stops `dispatcher` (offline notifications) on [`close`](Self::close).
    pub(crate) fn with_dispatcher(mut self, dispatcher: Option<tokio::task::AbortHandle>) -> Self {
        self.dispatcher = dispatcher;
        self
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

    /// Marks a message read on behalf of its recipient `user`, as `message-read` does:
    /// with every earlier message of the room addressed to `user`. The sender's sockets
    /// and every socket of `user` get `message-status-changed` and `messages-read` when
    /// anything changed.
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

    /// Replaces the text of a message on behalf of its sender `user`, as `edit-message`
    /// does (same text rules and edit window): both users' sockets get
    /// `message-updated`, unless the text is the same.
    pub async fn edit_message(
        &self,
        user: &UserId,
        message: &MessageId,
        text: impl Into<String>,
    ) -> Result<Message, ChatError> {
        let outcome = self
            .service
            .edit_message(&Self::session(user), message, text.into())
            .await?;
        chatzz_socketio::count_facts(outcome.facts);
        self.io.deliver(outcome.deliveries).await;
        Ok(outcome.reply)
    }

    /// Deletes a message on behalf of its sender `user`, as `delete-message` does: its
    /// text is erased from the store and both users' sockets get `message-updated` with
    /// the tombstone.
    pub async fn delete_message(
        &self,
        user: &UserId,
        message: &MessageId,
    ) -> Result<Message, ChatError> {
        let outcome = self
            .service
            .delete_message(&Self::session(user), message)
            .await?;
        chatzz_socketio::count_facts(outcome.facts);
        self.io.deliver(outcome.deliveries).await;
        Ok(outcome.reply)
    }

    /// `user`'s contacts as `get-contacts` lists them: with presence, unread count and
    /// last message, by last activity, newest first.
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
    /// their last, then stops sweeping presence and notifying; call it on shutdown.
    /// Notifications in flight are not lost: their leases run out and they are sent
    /// again (by another server, or this one after a restart).
    pub async fn close(&self) {
        self.io.close().await;
        for task in [&self.sweeper, &self.dispatcher].into_iter().flatten() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chatzz_core::{ChatStore, ErrorCode, UserDetails};
    use chatzz_store_memory::MemoryStore;

    use crate::Chatzz;

    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    /// A handle over a memory store where `users` are known (the host cannot connect
    /// them, and without a directory only known users can be added).
    async fn handle(users: &[&str], window: Option<Duration>) -> ChatzzHandle {
        let store = MemoryStore::new();
        for id in users {
            store.register_user(&user(id)).await.unwrap();
        }
        let mut builder = Chatzz::builder().store(store).trust_client_user_ids();
        if let Some(window) = window {
            builder = builder.edit_window(window);
        }
        let (_layer, handle) = builder.build().await.unwrap();
        handle
    }

    #[tokio::test]
    async fn the_host_reads_up_to_edits_and_deletes_as_clients_do() {
        let chat = handle(&["alice", "bob", "carol"], None).await;
        let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
        chat.add_contact(&alice, &bob).await.unwrap();
        chat.add_contact(&alice, &carol).await.unwrap();
        // Activity in the same millisecond as the newer room would tie (newer room first).
        tokio::time::sleep(Duration::from_millis(5)).await;
        let mut sent = Vec::new();
        for text in ["one", "two", "three"] {
            sent.push(chat.send_message(&bob, &alice, text, None).await.unwrap());
        }

        // Reading the second reads the first too.
        let read = chat.mark_read(&alice, &sent[1].id).await.unwrap();
        assert_eq!(read.status, chatzz_core::MessageStatus::Read);
        let contacts = chat.contacts(&alice).await.unwrap();
        let with_bob = contacts
            .iter()
            .find(|c| c.details == UserDetails::bare(&bob))
            .unwrap();
        assert_eq!(with_bob.unread_count, 1);
        assert_eq!(
            with_bob.last_message.as_ref().map(|m| m.id.clone()),
            Some(sent[2].id.clone())
        );
        // Bob's room has the newest message: it comes first.
        assert_eq!(contacts[0].details, UserDetails::bare(&bob));

        let edited = chat.edit_message(&bob, &sent[2].id, "THREE").await.unwrap();
        assert_eq!(edited.message, "THREE");
        assert!(edited.edited_at.is_some());
        let not_yours = chat.edit_message(&alice, &sent[2].id, "x").await;
        assert_eq!(not_yours.err().map(|e| e.code), Some(ErrorCode::NotFound));

        let tombstone = chat.delete_message(&bob, &sent[2].id).await.unwrap();
        assert_eq!(tombstone.message, "");
        assert!(tombstone.deleted_at.is_some());
        assert_eq!(
            tombstone.edited_at, edited.edited_at,
            "a tombstone keeps editedAt"
        );
        let again = chat.edit_message(&bob, &sent[2].id, "back").await;
        assert_eq!(again.err().map(|e| e.code), Some(ErrorCode::NotFound));
        let contacts = chat.contacts(&alice).await.unwrap();
        assert_eq!(contacts[0].unread_count, 0, "a tombstone is not unread");
    }

    #[tokio::test]
    async fn the_edit_window_of_the_builder_binds_the_host_too() {
        let chat = handle(&["alice", "bob"], Some(Duration::ZERO)).await;
        let (alice, bob) = (user("alice"), user("bob"));
        chat.add_contact(&alice, &bob).await.unwrap();
        let sent = chat.send_message(&alice, &bob, "hi", None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let late = chat.edit_message(&alice, &sent.id, "hello").await;
        assert_eq!(late.err().map(|e| e.code), Some(ErrorCode::Forbidden));
        // Deleting has no window.
        assert!(chat.delete_message(&alice, &sent.id).await.is_ok());
    }
}
