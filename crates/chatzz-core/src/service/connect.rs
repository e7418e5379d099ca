use std::collections::{BTreeMap, HashMap, HashSet};

use super::history::{fitting, json_bytes, json_string_bytes};
use super::{ChatService, Session};
use crate::error::{ChatError, ErrorCode};
use crate::event::{
    Audience, Delivery, Facts, Outcome, ServerEvent, StatusChange, UserDetailsData,
};
use crate::id::UserId;
use crate::message::Message;
use crate::user::{Blocks, ChatUser, PresenceStatus, UserDetails, by_last_activity};

impl ChatService {
    /// `connect-user`: registers the socket as the session's user, hands over the user's
    /// contacts and missed messages (which become `sent`), and announces the user online
    /// to its contacts if this is its first live socket. On failure the socket is not
    /// counted as live.
    pub async fn connect(&self, session: &Session) -> Result<Outcome<UserDetailsData>, ChatError> {
        let user = &session.user;
        self.check_rate(crate::rate::RatedEvent::ConnectUser, session)?;
        let details = match &self.directory {
            Some(_) => self
                .known_details(user)
                .await?
                .ok_or_else(|| ChatError::new(ErrorCode::UnknownUser, "no such user"))?,
            None => UserDetails::bare(user),
        };
        let record = self.store.register_user(user).await?;
        let added = self
            .presence
            .add_within(user, &session.socket, self.config.max_sockets_per_user)
            .await?
            .ok_or_else(|| {
                ChatError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "too many live connections for this user (at most {})",
                        self.config.max_sockets_per_user
                    ),
                )
            })?;
        let result = self
            .hand_over(user, details, record, added.came_online)
            .await;
        if result.is_err()
            && added.new_socket
            && let Err(err) = self.presence.remove(user, &session.socket).await
        {
            // The socket stays counted until the registry answers again; its disconnect
            // removes it then.
            tracing::warn!(%user, error = %err, "could not take a failed connect out of presence");
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

        let began = self.blocks.epoch();
        let contacts = by_last_activity(self.store.contacts(user).await?);
        // What typing needs to ask no store about these contacts.
        let now = (!contacts.is_empty()).then(|| self.clock.now());
        for (contact, now) in contacts.iter().zip(std::iter::repeat(now).flatten()) {
            self.rooms.remember(user, &contact.user, &contact.room);
            let blocks = Blocks {
                a_blocks_b: contact.blocked,
                b_blocks_a: contact.blocked_by,
            };
            self.blocks
                .remember(user, &contact.user, blocks, now, began);
        }
        // Those this user blocks hear nothing of it.
        let told: Vec<UserId> = contacts
            .iter()
            .filter(|c| !c.blocked)
            .map(|c| c.user.clone())
            .collect();
        let (mut connected_users, online) = self.contacts_of(&mut views, contacts).await?;
        let online_contacts: Vec<UserId> =
            told.into_iter().filter(|c| online.contains(c)).collect();

        let mut waiting = self
            .store
            .undelivered(
                user,
                self.config.missed_messages_per_sender,
                self.config.missed_messages_total,
            )
            .await?;
        // Cut to the byte bound before anything is marked sent, dropping the newest: each
        // sender's share stays its oldest, and the client pages the rest `after` it.
        let mut sizes = Vec::with_capacity(waiting.len());
        let mut senders = HashSet::new();
        for stored in &waiting {
            let mut size = json_bytes(&views.message(stored.clone()).await?);
            if senders.insert(stored.from.clone()) {
                // The sender's `"<id>":[]`; entries take the separators messages save.
                size =
                    size.saturating_add(json_string_bytes(stored.from.as_str()).saturating_add(3));
            }
            sizes.push(size);
        }
        waiting.truncate(fitting(
            sizes,
            // `{` and `}`, less the separator the last message does not need.
            self.config.max_reply_bytes.saturating_sub(1),
        ));
        let ids: Vec<_> = waiting.iter().map(|m| m.id.clone()).collect();
        let mut deliveries = Vec::new();
        let mut missed_messages: BTreeMap<UserId, Vec<Message>> = BTreeMap::new();
        let mut facts = Facts::default();
        let handed_over = if ids.is_empty() {
            Vec::new()
        } else {
            match self.store.mark_sent(&ids).await {
                Ok(delivered) => {
                    facts.messages_delivered = delivered.len();
                    let mut now_sent = HashMap::with_capacity(delivered.len());
                    for stored in &delivered {
                        let message = views.message(stored.clone()).await?;
                        now_sent.insert(message.id.clone(), message.clone());
                        deliveries.push(Delivery::new(
                            Audience::User(stored.from.clone()),
                            ServerEvent::MessageStatusChanged(message),
                        ));
                    }
                    // A contact's newest message may be one of them: one reply shows
                    // one status for it.
                    for contact in &mut connected_users {
                        if let Some(last) = &mut contact.last_message
                            && let Some(sent) = now_sent.get(&last.id)
                        {
                            **last = sent.clone();
                        }
                    }
                    delivered
                }
                // Whether the change was stored is unknown: hand the messages over anyway
                // (as `not_sent`). If it was not stored they come again next time, and
                // clients dedupe by id; what must not happen is that they never come.
                Err(err) => {
                    tracing::warn!(%user, error = %err, "could not mark missed messages sent");
                    waiting
                }
            }
        };
        for stored in handed_over {
            let sender = stored.from.clone();
            missed_messages
                .entry(sender)
                .or_default()
                .push(views.message(stored).await?);
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

        let reply = UserDetailsData {
            user: details,
            status: PresenceStatus::Online,
            last_online: record.last_online,
            connected_users,
            missed_messages,
        };
        Ok(Outcome::new(reply, deliveries).with_facts(facts))
    }
}

/// Who a `connect-user` registers: the verified identity when the connection was
/// authenticated (a different claimed id is `forbidden`), else the claimed one.
pub fn identify(claimed: Option<UserId>, verified: Option<&UserId>) -> Result<UserId, ChatError> {
    match (claimed, verified) {
        (Some(claimed), Some(verified)) if claimed != *verified => Err(ChatError::new(
            ErrorCode::Forbidden,
            "you can only connect as the user your credential names",
        )),
        (_, Some(verified)) => Ok(verified.clone()),
        (Some(claimed), None) => Ok(claimed),
        (None, None) => Err(ChatError::invalid("userId is required")),
    }
}

#[cfg(test)]
mod identify_tests {
    use super::*;

    fn id(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    #[test]
    fn a_verified_identity_wins_and_cannot_be_changed() {
        assert_eq!(identify(None, Some(&id("a"))), Ok(id("a")));
        assert_eq!(identify(Some(id("a")), Some(&id("a"))), Ok(id("a")));
        let err = identify(Some(id("b")), Some(&id("a"))).unwrap_err();
        assert_eq!(err.code, ErrorCode::Forbidden);
    }

    #[test]
    fn without_authentication_the_claim_is_taken_and_required() {
        assert_eq!(identify(Some(id("b")), None), Ok(id("b")));
        assert_eq!(
            identify(None, None).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }
}
