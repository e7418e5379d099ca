use super::{ChatService, Session};
use crate::error::{ChatError, ErrorCode};
use crate::event::{Audience, Delivery, Outcome, ServerEvent};
use crate::id::MessageId;
use crate::message::{Message, MessageText, StoredMessage};
use crate::rate::RatedEvent;

fn not_found() -> ChatError {
    ChatError::new(ErrorCode::NotFound, "no such message of yours")
}

impl ChatService {
    /// `edit-message`: the sender replaces the text of a message that is not deleted,
    /// within the edit window after it was created. Both users' sockets hear of it
    /// (the editor's other tabs too); the same text again changes nothing. Edits count
    /// against the sender's `send-message` rate.
    pub async fn edit_message(
        &self,
        session: &Session,
        id: &MessageId,
        text: String,
    ) -> Result<Outcome<Message>, ChatError> {
        let text = MessageText::parse(text, self.config.max_message_chars)?;
        self.check_rate(RatedEvent::SendMessage, session)?;
        let stored = self.own_message(session, id).await?;
        if stored.is_deleted() {
            return Err(not_found());
        }
        let now = self.clock.now();
        let window = i64::try_from(self.config.edit_window.as_millis()).unwrap_or(i64::MAX);
        if now.millis().saturating_sub(stored.created_at.millis()) > window {
            return Err(ChatError::new(
                ErrorCode::Forbidden,
                format!(
                    "messages can be edited for {} seconds after they are sent",
                    self.config.edit_window.as_secs()
                ),
            ));
        }
        let mut views = self.views();
        if stored.text == text.as_str() {
            return Ok(Outcome::new(views.message(stored).await?, Vec::new()));
        }
        // `None`: deleted since it was read above, and a delete wins.
        let edited = self
            .store
            .edit_message(id, &text, now)
            .await?
            .ok_or_else(not_found)?;
        let message = views.message(edited.clone()).await?;
        let deliveries = updated_for(&edited, &message);
        Ok(Outcome::new(message, deliveries))
    }

    /// `delete-message`: the sender turns a message into a tombstone, its text erased
    /// from the store, at any time. Both users' sockets hear of it; deleting a
    /// tombstone again changes nothing. Deletes count against the `send-message` rate.
    pub async fn delete_message(
        &self,
        session: &Session,
        id: &MessageId,
    ) -> Result<Outcome<Message>, ChatError> {
        self.check_rate(RatedEvent::SendMessage, session)?;
        let stored = self.own_message(session, id).await?;
        let mut views = self.views();
        if stored.is_deleted() {
            return Ok(Outcome::new(views.message(stored).await?, Vec::new()));
        }
        match self.store.delete_message(id, self.clock.now()).await? {
            Some(tombstone) => {
                let message = views.message(tombstone.clone()).await?;
                let deliveries = updated_for(&tombstone, &message);
                Ok(Outcome::new(message, deliveries))
            }
            // Another socket of the sender deleted it first, and announced it.
            None => {
                let current = self.store.find_message(id).await?.ok_or_else(not_found)?;
                Ok(Outcome::new(views.message(current).await?, Vec::new()))
            }
        }
    }

    /// The message `id` if the session's user sent it; `not-found` otherwise, without
    /// telling which.
    async fn own_message(
        &self,
        session: &Session,
        id: &MessageId,
    ) -> Result<StoredMessage, ChatError> {
        let stored = self.store.find_message(id).await?.ok_or_else(not_found)?;
        if stored.from != session.user {
            return Err(not_found());
        }
        Ok(stored)
    }
}

/// `message-updated` to every socket of both users (the requesting socket too, as
/// `new-message` reaches the sender's).
fn updated_for(stored: &StoredMessage, message: &Message) -> Vec<Delivery> {
    [&stored.from, &stored.to]
        .into_iter()
        .map(|user| {
            Delivery::new(
                Audience::User(user.clone()),
                ServerEvent::MessageUpdated(message.clone()),
            )
        })
        .collect()
}
