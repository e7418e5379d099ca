use super::{ChatService, Session};
use crate::error::{ChatError, ErrorCode};
use crate::event::{Audience, Delivery, Outcome, ServerEvent};
use crate::id::MessageId;
use crate::message::{Message, MessageStatus, MessagesRead};
use crate::rate::RatedEvent;

impl ChatService {
    /// `message-read`: reads the room up to the named message. Only its recipient may;
    /// every earlier message of the room addressed to them that is not `read` yet is
    /// marked in the same store call, with the same `read_at`. When anything changed,
    /// the sender's sockets and the reader's other sockets hear of the named message and
    /// get one `messages-read`; naming a message at or before the read position changes
    /// nothing and tells nobody.
    pub async fn mark_read(
        &self,
        session: &Session,
        id: &MessageId,
    ) -> Result<Outcome<Message>, ChatError> {
        self.check_rate(RatedEvent::MessageRead, session)?;
        let not_found = || ChatError::new(ErrorCode::NotFound, "no such message addressed to you");
        let named = self.store.find_message(id).await?.ok_or_else(not_found)?;
        if named.to != session.user {
            return Err(not_found());
        }
        let at = self.clock.now();
        let count = self
            .store
            .read_up_to(&session.user, &named.room, &named.id, at)
            .await?;
        let mut views = self.views();
        if count == 0 {
            // At or before the read position (or another socket of the reader won the
            // race, and it announces the change).
            let current = self.store.find_message(id).await?.unwrap_or(named);
            return Ok(Outcome::new(views.message(current).await?, Vec::new()));
        }
        // This call moved something, so the named message is read now: by this call,
        // unless it was read before (singly, by version 1). Not read back from the store:
        // a failure after the write would lose the receipts.
        let mut read = named;
        if read.status != MessageStatus::Read {
            read.status = MessageStatus::Read;
            read.read_at = Some(at);
        }
        let sender = read.from.clone();
        let range = MessagesRead {
            chat_room_id: read.room.clone(),
            reader_id: session.user.clone(),
            up_to: read.id.clone(),
            read_at: at,
            count,
        };
        let message = views.message(read).await?;
        let mut deliveries = Vec::with_capacity(4);
        for audience in [
            Audience::User(sender),
            Audience::OtherSocketsOf(session.user.clone()),
        ] {
            deliveries.push(Delivery::new(
                audience.clone(),
                ServerEvent::MessageStatusChanged(message.clone()),
            ));
            deliveries.push(Delivery::new(
                audience,
                ServerEvent::MessagesRead(range.clone()),
            ));
        }
        Ok(Outcome::new(message, deliveries))
    }
}
