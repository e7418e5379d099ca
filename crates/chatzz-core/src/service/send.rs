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
    /// `send-message`: stores the message first, then announces it to both users, then
    /// marks it `sent` if the recipient is online. A retry with a known client message id
    /// returns the stored message and announces it only if it is still undelivered while
    /// the recipient is online.
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
        // Asked before the write so that what is owed is stored with the message; a
        // recipient whose presence is unknown is owed one (at least once).
        let notify = self.notifier.is_some()
            && !self.presence.is_online(to).await.unwrap_or_else(|err| {
                tracing::warn!(error = %err, "presence unknown; the recipient will be notified");
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
                notify,
            })
            .await?;

        let mut views = self.views();
        // The message is stored: if presence cannot tell, it waits as `not_sent` for the
        // recipient's next connect or history read rather than failing the send.
        let deliverable = stored.status == MessageStatus::NotSent
            && self
                .presence
                .is_online(&stored.to)
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "presence unknown; the message waits");
                    false
                });
        let mut facts = Facts {
            messages_stored: usize::from(created),
            ..Facts::default()
        };
        if !created && !deliverable {
            return Ok(Outcome::new(views.message(stored).await?, Vec::new()));
        }

        let (from, to) = (stored.from.clone(), stored.to.clone());
        let announced = views.message(stored.clone()).await?;
        // The typer's message arrives: it has stopped typing.
        let mut deliveries: Vec<Delivery> = self.stopped_typing(&from, &to).into_iter().collect();
        deliveries.extend([
            Delivery::new(
                Audience::User(from.clone()),
                ServerEvent::NewMessage(announced.clone()),
            ),
            Delivery::new(
                Audience::User(to.clone()),
                ServerEvent::NewMessage(announced.clone()),
            ),
        ]);
        if !deliverable {
            return Ok(Outcome::new(announced, deliveries).with_facts(facts));
        }
        // The message is stored and will be announced: a failure to record delivery must
        // not turn into an error the client would retry. It stays `not_sent` and is
        // handed over again on the recipient's next connect or history read.
        let reply = match self.store.mark_sent(std::slice::from_ref(&stored.id)).await {
            Ok(moved) => match moved.into_iter().next() {
                Some(sent) => {
                    facts.messages_delivered = 1;
                    let sent = views.message(sent).await?;
                    for user in [from, to] {
                        deliveries.push(Delivery::new(
                            Audience::User(user),
                            ServerEvent::MessageStatusChanged(sent.clone()),
                        ));
                    }
                    sent
                }
                // Someone else delivered it first (the recipient's connect, say).
                None => match self.store.find_message(&stored.id).await {
                    Ok(Some(current)) => views.message(current).await?,
                    _ => announced,
                },
            },
            Err(err) => {
                tracing::warn!(message = %stored.id, error = %err, "could not mark message sent");
                announced
            }
        };
        Ok(Outcome::new(reply, deliveries).with_facts(facts))
    }
}
