use super::{ChatService, Session};
use crate::error::ChatError;
use crate::event::{Audience, Delivery, Outcome, ServerEvent};
use crate::id::{MessageId, UserId};
use crate::message::{HistoryQuery, Message, MessageStatus};
use crate::time::Timestamp;

/// `get-old-messages` as decoded from the client, before the domain's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRequest {
    pub with: UserId,
    pub since: Option<Timestamp>,
    pub before: Option<MessageId>,
    pub after: Option<MessageId>,
    pub limit: Option<u64>,
}

impl ChatService {
    /// `get-old-messages`: a page of the chat with `request.with`, oldest first. Messages
    /// addressed to the requester that were still `not_sent` are `sent` from now on, and
    /// their senders hear so.
    pub async fn history(
        &self,
        session: &Session,
        request: HistoryRequest,
    ) -> Result<Outcome<Vec<Message>>, ChatError> {
        if request.with == session.user {
            return Err(ChatError::invalid("there is no chat with yourself"));
        }
        let limit = match request.limit {
            None => self.config.default_history_limit,
            Some(n) if n >= 1 && n <= self.config.max_history_limit as u64 => n as usize,
            Some(_) => {
                return Err(ChatError::invalid(format!(
                    "limit must be an integer from 1 to {}",
                    self.config.max_history_limit
                )));
            }
        };
        let room = self.room_with(session, &request.with).await?;
        let query = HistoryQuery {
            since: request.since,
            before: request.before,
            after: request.after,
            limit,
        };
        let mut page = self.store.history(&room, &query).await?;

        let waiting: Vec<MessageId> = page
            .iter()
            .filter(|m| m.to == session.user && m.status == MessageStatus::NotSent)
            .map(|m| m.id.clone())
            .collect();
        let delivered = if waiting.is_empty() {
            Vec::new()
        } else {
            // The page is read: failing to record delivery must not hide it.
            self.store.mark_sent(&waiting).await.unwrap_or_else(|err| {
                tracing::warn!(user = %session.user, error = %err, "could not mark history sent");
                Vec::new()
            })
        };

        let mut views = self.views();
        let mut deliveries = Vec::with_capacity(delivered.len());
        for stored in delivered {
            if let Some(slot) = page.iter_mut().find(|m| m.id == stored.id) {
                *slot = stored.clone();
            }
            let sender = stored.from.clone();
            deliveries.push(Delivery::new(
                Audience::User(sender),
                ServerEvent::MessageStatusChanged(views.message(stored).await?),
            ));
        }
        Ok(Outcome {
            reply: views.messages(page).await?,
            deliveries,
        })
    }
}
