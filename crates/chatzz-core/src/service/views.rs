//! Turning stored records into what the wire shows, looking each user up once per call.

use std::collections::{HashMap, HashSet};

use super::ChatService;
use crate::error::{ChatError, ErrorCode};
use crate::id::UserId;
use crate::message::{Message, StoredMessage};
use crate::user::{Contact, ContactRecord, PresenceStatus, UserDetails};

impl ChatService {
    /// The details of a user the directory (or, without one, the store) knows; `None`
    /// for an unknown user.
    pub(super) async fn known_details(
        &self,
        user: &UserId,
    ) -> Result<Option<UserDetails>, ChatError> {
        match &self.directory {
            Some(directory) => Ok(directory
                .details(user)
                .await?
                .map(|fields| UserDetails::from_fields(user, fields))),
            None => Ok(self
                .store
                .find_user(user)
                .await?
                .map(|_| UserDetails::bare(user))),
        }
    }

    /// Each record as a contact, with presence asked once for all of them, in the
    /// order of `records`; and which of them are online. A contact who blocks the viewer
    /// shows offline, never seen.
    pub(super) async fn contacts_of(
        &self,
        views: &mut Views<'_>,
        records: Vec<ContactRecord>,
    ) -> Result<(Vec<Contact>, HashSet<UserId>), ChatError> {
        let ids: Vec<UserId> = records.iter().map(|r| r.user.clone()).collect();
        let online = self.presence.online_among(&ids).await?;
        let mut contacts = Vec::with_capacity(records.len());
        for mut record in records {
            let status = if record.blocked_by {
                record.last_online = None;
                PresenceStatus::Offline
            } else {
                PresenceStatus::of(online.contains(&record.user))
            };
            contacts.push(views.contact(record, status).await?);
        }
        Ok((contacts, online))
    }

    pub(super) fn views(&self) -> Views<'_> {
        Views {
            service: self,
            cache: HashMap::new(),
        }
    }
}

/// Builds wire objects within one use case, caching user details.
pub(super) struct Views<'a> {
    service: &'a ChatService,
    cache: HashMap<UserId, UserDetails>,
}

impl Views<'_> {
    /// Details of a user who takes part in a chat. Without a directory entry (a user
    /// removed from the host app, say) the bare `{ "_id" }` still names them.
    pub async fn details(&mut self, user: &UserId) -> Result<UserDetails, ChatError> {
        if let Some(details) = self.cache.get(user) {
            return Ok(details.clone());
        }
        let details = match &self.service.directory {
            Some(directory) => match directory.details(user).await? {
                Some(fields) => UserDetails::from_fields(user, fields),
                None => UserDetails::bare(user),
            },
            None => UserDetails::bare(user),
        };
        self.cache.insert(user.clone(), details.clone());
        Ok(details)
    }

    /// Remembers details already looked up.
    pub fn remember(&mut self, user: &UserId, details: &UserDetails) {
        self.cache.insert(user.clone(), details.clone());
    }

    pub async fn message(&mut self, stored: StoredMessage) -> Result<Message, ChatError> {
        let from = self.details(&stored.from).await?;
        let to = self.details(&stored.to).await?;
        Ok(Message {
            id: stored.id,
            chat_room_id: stored.room,
            created_at: stored.created_at,
            from,
            to,
            message: stored.text,
            status: stored.status,
            read_at: stored.read_at,
            edited_at: stored.edited_at,
            deleted_at: stored.deleted_at,
        })
    }

    pub async fn messages(
        &mut self,
        stored: Vec<StoredMessage>,
    ) -> Result<Vec<Message>, ChatError> {
        let mut out = Vec::with_capacity(stored.len());
        for message in stored {
            out.push(self.message(message).await?);
        }
        Ok(out)
    }

    pub async fn contact(
        &mut self,
        record: ContactRecord,
        status: PresenceStatus,
    ) -> Result<Contact, ChatError> {
        let details = self.details(&record.user).await?;
        let last_message = match record.last_message {
            Some(stored) => Some(Box::new(self.message(stored).await?)),
            None => None,
        };
        Ok(Contact {
            status,
            details,
            chat_room_id: record.room,
            last_online: record.last_online,
            unread_count: record.unread,
            last_message,
            blocked: record.blocked,
        })
    }
}

pub(super) fn not_a_contact() -> ChatError {
    ChatError::new(
        ErrorCode::NotAContact,
        "you and this user have no chat room; add them first",
    )
}
