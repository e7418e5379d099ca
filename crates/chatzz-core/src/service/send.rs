use super::{ChatService, Session};
use crate::error::ChatError;
use crate::event::{Audience, Delivery, Facts, Outcome, ServerEvent};
use crate::id::{ClientMessageId, UserId};
use crate::message::{Inserted, Message, MessageStatus, MessageText, NewMessage};
use crate::rate::RatedEvent;

/// `send-message` as decoded from the client, before the domain's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    pub to: UserId,
    pub text: String,
    /// The client's own id, which makes a retry safe.
    pub client_message_id: Option<ClientMessageId>,
}

impl SendRequest {
    pub fn new(
        to: &UserId,
        text: impl Into<String>,
        client_message_id: Option<ClientMessageId>,
    ) -> Self {
        Self {
            to: to.clone(),
            text: text.into(),
            client_message_id,
        }
    }
}

impl ChatService {
    /// `send-message`: stores the message first (already `sent` if the recipient has a
    /// live socket), then announces it to both users as `not_sent` and, once it is
    /// delivered, as `sent`. A retry with a known client message id returns the stored
    /// message and announces it only if it is still undelivered while the recipient is
    /// online.
    pub async fn send(
        &self,
        session: &Session,
        request: SendRequest,
    ) -> Result<Outcome<Message>, ChatError> {
        let SendRequest {
            to,
            text,
            client_message_id,
        } = request;
        let to = &to;
        if *to == session.user {
            return Err(ChatError::invalid("you cannot message yourself"));
        }
        self.check_rate(RatedEvent::SendMessage, session)?;
        let text = MessageText::parse(text, self.config.max_message_chars)?;
        // Before the room: `forbidden` whether or not they are contacts.
        self.not_blocked(&session.user, to).await?;
        let room = self.room_with(session, to).await?;
        // Asked before the write, so that one write stores what the answer decides: a
        // recipient with a live socket gets the message `sent` (no second write to mark
        // it), one without is owed a notification. Unknown presence counts as offline:
        // the message waits as `not_sent` and a notification is owed (at least once).
        let online = self.presence.is_online(to).await.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "presence unknown; the message waits");
            false
        });
        let Inserted {
            message: stored,
            created,
        } = self
            .store
            .insert_message(NewMessage {
                room,
                from: session.user.clone(),
                to: to.clone(),
                text,
                created_at: self.clock.now(),
                client_message_id,
                notify: self.notifier.is_some() && !online,
                sent: online,
            })
            .await?;

        let mut views = self.views();
        // Delivered by the insert itself: clients still see it announced `not_sent`,
        // then `sent`, as when the two were separate writes (nothing was emitted
        // between them).
        let sent_by_insert = created && stored.status == MessageStatus::Sent;
        // Otherwise asked again after the write: a recipient who connected since the
        // first answer may have looked for undelivered messages before this one was
        // stored, so it is handed over here. A retry finds the message as the first
        // attempt stored it: `not_sent`, it is handed over now if the recipient is
        // online; `sent` and untouched since, it may have been stored without being
        // announced (the first attempt failed after its write), so it is announced
        // again as stored (clients dedupe by id). Once read, edited or deleted, both
        // sides have had it. If presence cannot tell, a `not_sent` message waits for
        // the recipient's next connect or history read rather than failing the send.
        let untouched = stored.edited_at.is_none() && stored.deleted_at.is_none();
        let recipient_online = !sent_by_insert
            && (stored.status == MessageStatus::NotSent
                || (stored.status == MessageStatus::Sent && untouched))
            && self
                .presence
                .is_online(&stored.to)
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "presence unknown; the message waits");
                    false
                });
        let deliverable = recipient_online && stored.status == MessageStatus::NotSent;
        let mut facts = Facts {
            messages_stored: usize::from(created),
            ..Facts::default()
        };
        if !created && !recipient_online {
            return Ok(Outcome::new(views.message(stored).await?, Vec::new()));
        }

        let (id, from, to) = (stored.id.clone(), stored.from.clone(), stored.to.clone());
        let (announced, sent) = if sent_by_insert {
            let sent = views.message(stored).await?;
            let announced = Message {
                status: MessageStatus::NotSent,
                ..sent.clone()
            };
            (announced, Some(sent))
        } else {
            (views.message(stored).await?, None)
        };
        // The typer's message arrives: it has stopped typing.
        let mut deliveries: Vec<Delivery> = self.stopped_typing(&from, &to).into_iter().collect();
        for user in [&from, &to] {
            deliveries.push(Delivery::new(
                Audience::User(user.clone()),
                ServerEvent::NewMessage(announced.clone()),
            ));
        }
        let sent = match sent {
            Some(sent) => sent,
            None if !deliverable => {
                return Ok(Outcome::new(announced, deliveries).with_facts(facts));
            }
            // The message is stored and will be announced: a failure to record delivery
            // must not turn into an error the client would retry. It stays `not_sent` and
            // is handed over again on the recipient's next connect or history read.
            None => match self.store.mark_sent(std::slice::from_ref(&id)).await {
                Ok(moved) => match moved.into_iter().next() {
                    Some(sent) => views.message(sent).await?,
                    // Someone else delivered it first (the recipient's connect, say).
                    None => {
                        let reply = match self.store.find_message(&id).await {
                            Ok(Some(current)) => views.message(current).await?,
                            _ => announced,
                        };
                        return Ok(Outcome::new(reply, deliveries).with_facts(facts));
                    }
                },
                Err(err) => {
                    tracing::warn!(message = %id, error = %err, "could not mark message sent");
                    return Ok(Outcome::new(announced, deliveries).with_facts(facts));
                }
            },
        };
        facts.messages_delivered = 1;
        for user in [from, to] {
            deliveries.push(Delivery::new(
                Audience::User(user),
                ServerEvent::MessageStatusChanged(sent.clone()),
            ));
        }
        Ok(Outcome::new(sent, deliveries).with_facts(facts))
    }
}
