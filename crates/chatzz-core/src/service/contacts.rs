use super::views::not_a_contact;
use super::{ChatService, Session};
use crate::error::{ChatError, ErrorCode};
use crate::event::{Audience, Delivery, Outcome, ServerEvent};
use crate::id::{ChatRoomId, UserId};
use crate::rate::RatedEvent;
use crate::user::{Contact, ContactRecord, PresenceStatus, by_last_activity};

impl ChatService {
    /// `add-chat-user`: links the session's user with `other` in their one room, if the
    /// host's contact policy allows it. The first link announces the requester to
    /// `other`; repeating it changes nothing.
    pub async fn add_contact(
        &self,
        session: &Session,
        other: &UserId,
    ) -> Result<Outcome<Contact>, ChatError> {
        let me = &session.user;
        if me == other {
            return Err(ChatError::invalid("you cannot add yourself"));
        }
        self.check_rate(RatedEvent::AddChatUser, session)?;
        let other_details = self
            .known_details(other)
            .await?
            .ok_or_else(|| ChatError::new(ErrorCode::UnknownUser, "no such user"))?;
        // The host application's own calls are its decision already.
        if let Some(policy) = &self.policy
            && !session.socket.is_host()
            && !policy.may_link(me, other).await?
        {
            return Err(ChatError::new(
                ErrorCode::Forbidden,
                "you may not add this user",
            ));
        }
        self.not_blocked(me, other).await?;
        // Everything that can fail is read before linking: once the room exists, a retry
        // finds it already there and would not announce it again.
        let other_record = self.store.find_user(other).await?;
        let my_record = self.store.find_user(me).await?;
        let mut views = self.views();
        let my_details = views.details(me).await?;
        let other_status = PresenceStatus::of(self.presence.is_online(other).await?);
        let link = self.store.link(me, other, self.clock.now()).await?;
        self.rooms.remember(me, other, &link.room);
        let other_last_online = other_record.and_then(|u| u.last_online);
        let contact = if link.created {
            Contact {
                details: other_details,
                chat_room_id: link.room.clone(),
                status: other_status,
                last_online: other_last_online,
                unread_count: 0,
                last_message: None,
                blocked: false,
            }
        } else {
            // The room was there: where the conversation stands is the store's to say.
            let record = self
                .store
                .contacts(me)
                .await?
                .into_iter()
                .find(|record| record.room == link.room)
                .unwrap_or(ContactRecord {
                    user: other.clone(),
                    room: link.room.clone(),
                    last_online: other_last_online,
                    since: None,
                    unread: 0,
                    last_message: None,
                    blocked: false,
                    blocked_by: false,
                });
            views.remember(other, &other_details);
            views.contact(record, other_status).await?
        };

        let mut deliveries = Vec::new();
        if link.created {
            let me_as_contact = Contact {
                details: my_details,
                chat_room_id: link.room,
                status: PresenceStatus::Online,
                last_online: my_record.and_then(|u| u.last_online),
                unread_count: 0,
                last_message: None,
                blocked: false,
            };
            deliveries.push(Delivery::new(
                Audience::User(other.clone()),
                ServerEvent::ChatUserAdded(me_as_contact),
            ));
        }
        Ok(Outcome::new(contact, deliveries))
    }

    /// Everyone `user` shares a room with, with presence and where each conversation
    /// stands, by last activity, newest first.
    pub async fn contacts(&self, user: &UserId) -> Result<Vec<Contact>, ChatError> {
        let records = by_last_activity(self.store.contacts(user).await?);
        let mut views = self.views();
        Ok(self.contacts_of(&mut views, records).await?.0)
    }

    /// `get-contacts`: the session's contacts as `connect-user` lists them. It costs what
    /// the contact part of a `connect-user` costs, so it counts against that event's rate.
    pub async fn get_contacts(
        &self,
        session: &Session,
    ) -> Result<Outcome<Vec<Contact>>, ChatError> {
        self.check_rate(RatedEvent::ConnectUser, session)?;
        Ok(Outcome::new(
            self.contacts(&session.user).await?,
            Vec::new(),
        ))
    }

    /// The room the session's user shares with `other`, or `not-a-contact`.
    pub(super) async fn room_with(
        &self,
        session: &Session,
        other: &UserId,
    ) -> Result<ChatRoomId, ChatError> {
        let room = self
            .store
            .find_room(&session.user, other)
            .await?
            .ok_or_else(not_a_contact)?;
        self.rooms.remember(&session.user, other, &room);
        Ok(room)
    }
}
