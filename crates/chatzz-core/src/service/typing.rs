use super::views::not_a_contact;
use super::{ChatService, Session};
use crate::error::ChatError;
use crate::event::{Audience, Delivery, Outcome, ServerEvent, TypingData};
use crate::id::{ChatRoomId, UserId};
use crate::rate::RatedEvent;
use crate::typing::TYPING_TTL_MS;

impl ChatService {
    /// `typing`: tells the contact `with` that the session's user started (or stopped)
    /// typing. Never stored, and no store call once this server knows the pair's room
    /// (from a `connect-user`, `add-chat-user`, send or earlier typing): typing works
    /// while the store is down.
    pub async fn typing(
        &self,
        session: &Session,
        with: &UserId,
        typing: bool,
    ) -> Result<Outcome<()>, ChatError> {
        let me = &session.user;
        if me == with {
            return Err(ChatError::invalid("you cannot type to yourself"));
        }
        self.check_rate(RatedEvent::Typing, session)?;
        self.not_blocked_lately(me, with).await?;
        let room = self.known_room(me, with).await?;
        let now = self.clock.now();
        let data = if typing {
            self.typists.started(me, with, &room, now);
            TypingData {
                user_id: me.clone(),
                chat_room_id: room,
                typing: true,
                expires_in_ms: TYPING_TTL_MS,
            }
        } else {
            self.typists.stopped(me, with, now);
            TypingData::stopped(me.clone(), room)
        };
        Ok(Outcome::new(
            (),
            vec![Delivery::new(
                Audience::User(with.clone()),
                ServerEvent::Typing(data),
            )],
        ))
    }

    /// The room of `a` and `b` as this server remembers it, else as the store says
    /// (then remembered), else `not-a-contact`.
    async fn known_room(&self, a: &UserId, b: &UserId) -> Result<ChatRoomId, ChatError> {
        if let Some(room) = self.rooms.get(a, b) {
            return Ok(room);
        }
        let room = self
            .store
            .find_room(a, b)
            .await?
            .ok_or_else(not_a_contact)?;
        self.rooms.remember(a, b, &room);
        Ok(room)
    }

    /// `typing: false` to `to` if the session's user said it was typing to them lately
    /// (its message has arrived, so it has stopped).
    pub(super) fn stopped_typing(&self, from: &UserId, to: &UserId) -> Option<Delivery> {
        let room = self.typists.stopped(from, to, self.clock.now())?;
        Some(Delivery::new(
            Audience::User(to.clone()),
            ServerEvent::Typing(TypingData::stopped(from.clone(), room)),
        ))
    }

    /// `typing: false` to everyone `user` said it was typing to lately: it has left.
    pub(super) fn left_typing(&self, user: &UserId) -> Vec<Delivery> {
        self.typists
            .left(user, self.clock.now())
            .into_iter()
            .map(|(contact, room)| {
                Delivery::new(
                    Audience::User(contact),
                    ServerEvent::Typing(TypingData::stopped(user.clone(), room)),
                )
            })
            .collect()
    }
}
