use super::{ChatService, Session};
use crate::error::{ChatError, ErrorCode};
use crate::event::{Audience, Delivery, Outcome, ServerEvent};
use crate::id::MessageId;
use crate::message::{Message, MessageStatus};
use crate::rate::RatedEvent;

impl ChatService {
    /// `message-read`: only the recipient may mark a message read. The sender and the
    /// recipient's other sockets hear of the change; reading it again changes nothing.
    pub async fn mark_read(
        &self,
        session: &Session,
        id: &MessageId,
    ) -> Result<Outcome<Message>, ChatError> {
        self.check_rate(RatedEvent::MessageRead, session)?;
        let not_found = || ChatError::new(ErrorCode::NotFound, "no such message addressed to you");
        let stored = self.store.find_message(id).await?.ok_or_else(not_found)?;
        if stored.to != session.user {
            return Err(not_found());
        }
        let mut views = self.views();
        if stored.status == MessageStatus::Read {
            return Ok(Outcome::new(views.message(stored).await?, Vec::new()));
        }
        let Some(read) = self.store.mark_read(id, self.clock.now()).await? else {
            // Another socket of the recipient won the race; it announced the change.
            let current = self.store.find_message(id).await?.ok_or_else(not_found)?;
            return Ok(Outcome::new(views.message(current).await?, Vec::new()));
        };
        let sender = read.from.clone();
        let message = views.message(read).await?;
        let deliveries = vec![
            Delivery::new(
                Audience::User(sender),
                ServerEvent::MessageStatusChanged(message.clone()),
            ),
            Delivery::new(
                Audience::OtherSocketsOf(session.user.clone()),
                ServerEvent::MessageStatusChanged(message.clone()),
            ),
        ];
        Ok(Outcome::new(message, deliveries))
    }
}
