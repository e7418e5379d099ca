use super::{ChatService, Session};
use crate::error::ChatError;
use crate::event::{Audience, Delivery, Facts, Outcome, ServerEvent, json_len};
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
        self.check_rate(crate::rate::RatedEvent::GetOldMessages, session)?;
        let room = self.room_with(session, &request.with).await?;
        let query = HistoryQuery {
            since: request.since,
            before: request.before,
            after: request.after,
            limit,
        };
        let mut page = self.store.history(&room, &query).await?;

        // Cut to the byte bound before anything is marked sent, keeping the end next to
        // the client's cursor so that paging on leaves no hole: the oldest after `after`,
        // else the newest.
        let mut views = self.views();
        let mut sizes = Vec::with_capacity(page.len());
        for stored in &page {
            sizes.push(json_bytes(&views.message(stored.clone()).await?));
        }
        // `[` and `]`, less the separator the last message does not need.
        let budget = self.config.max_reply_bytes.saturating_sub(1);
        if query.after.is_some() {
            page.truncate(fitting(sizes, budget));
        } else {
            let keep = fitting(sizes.into_iter().rev(), budget);
            page.drain(..page.len() - keep);
        }

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

        let facts = Facts {
            messages_delivered: delivered.len(),
            ..Facts::default()
        };
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
        Ok(Outcome::new(views.messages(page).await?, deliveries).with_facts(facts))
    }
}

/// The bytes `message` adds to a JSON array: its JSON and a separator. A view that
/// would not serialize counts as too big, which keeps the bound.
pub(super) fn json_bytes(message: &Message) -> usize {
    json_len(message).map_or(usize::MAX, |len| len.saturating_add(1))
}

/// The bytes of `text` as a JSON string, quotes included.
pub(super) fn json_string_bytes(text: &str) -> usize {
    serde_json::to_string(text).map_or(usize::MAX, |json| json.len())
}

/// How many of `sizes`, taken in order, fit in `budget` bytes; at least one, so that
/// one message bigger than the bound still gets through and paging goes on.
pub(super) fn fitting(sizes: impl IntoIterator<Item = usize>, budget: usize) -> usize {
    let mut used = 0usize;
    let mut count = 0;
    for size in sizes {
        used = used.saturating_add(size);
        if count > 0 && used > budget {
            break;
        }
        count += 1;
    }
    count
}
