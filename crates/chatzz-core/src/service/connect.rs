use std::collections::BTreeMap;

use super::{ChatService, Session};
use crate::error::{ChatError, ErrorCode};
use crate::event::{Audience, Delivery, Outcome, ServerEvent, StatusChange, UserDetailsData};
use crate::id::UserId;
use crate::message::Message;
use crate::user::{ChatUser, PresenceStatus, UserDetails};

impl ChatService {
    /// `connect-user`: registers the socket as the session's user, hands over the user's
    /// contacts and missed messages (which become `sent`), and announces the user online
    /// to its contacts if this is its first live socket. On failure the socket is not
    /// counted as live.
    pub async fn connect(&self, session: &Session) -> Result<Outcome<UserDetailsData>, ChatError> {
        let user = &session.user;
        let details = match &self.directory {
            Some(_) => self
                .known_details(user)
                .await?
                .ok_or_else(|| ChatError::new(ErrorCode::UnknownUser, "no such user"))?,
            None => UserDetails::bare(user),
        };
        let record = self.store.register_user(user).await?;
        let added = self.presence.add(user, &session.socket);
        let result = self
            .hand_over(user, details, record, added.came_online)
            .await;
        if result.is_err() && added.new_socket {
            self.presence.remove(user, &session.socket);
        }
        result
    }

    async fn hand_over(
        &self,
        user: &UserId,
        details: UserDetails,
        record: ChatUser,
        came_online: bool,
    ) -> Result<Outcome<UserDetailsData>, ChatError> {
        let mut views = self.views();
        views.remember(user, &details);

        let contacts = self.store.contacts(user).await?;
        let mut connected_users = Vec::with_capacity(contacts.len());
        let mut online_contacts = Vec::new();
        for record in contacts {
            let id = record.user.clone();
            let contact = views.contact(record).await?;
            if contact.status == PresenceStatus::Online {
                online_contacts.push(id);
            }
            connected_users.push(contact);
        }

        let waiting = self
            .store
            .undelivered(user, self.config.missed_messages_per_sender)
            .await?;
        let ids: Vec<_> = waiting.into_iter().map(|m| m.id).collect();
        let delivered = if ids.is_empty() {
            Vec::new()
        } else {
            self.store.mark_sent(&ids).await?
        };

        let mut deliveries = Vec::new();
        let mut missed_messages: BTreeMap<UserId, Vec<Message>> = BTreeMap::new();
        for stored in delivered {
            let sender = stored.from.clone();
            let message = views.message(stored).await?;
            deliveries.push(Delivery::new(
                Audience::User(sender.clone()),
                ServerEvent::MessageStatusChanged(message.clone()),
            ));
            missed_messages.entry(sender).or_default().push(message);
        }

        if came_online {
            let change = StatusChange {
                user: details.clone(),
                status: PresenceStatus::Online,
                last_online: record.last_online,
            };
            for contact in online_contacts {
                deliveries.push(Delivery::new(
                    Audience::User(contact),
                    ServerEvent::ChatUserStatusChanged(change.clone()),
                ));
            }
        }

        Ok(Outcome {
            reply: UserDetailsData {
                user: details,
                status: PresenceStatus::Online,
                last_online: record.last_online,
                connected_users,
                missed_messages,
            },
            deliveries,
        })
    }
}
