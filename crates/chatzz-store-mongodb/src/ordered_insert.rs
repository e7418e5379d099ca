//! The two ordered-insert strategies of `insert_message` (see the crate documentation):
//! in a transaction holding the message's room, or, without transactions, taking turns
//! through the room's lease lock and fenced by the unique index on `(chatRoomId, prev)`.

use std::time::Instant;

use chatzz_core::{StoreError, StoredMessage, UserId};
use mongodb::ClientSession;
use mongodb::bson::{Document, doc};
use mongodb::options::{ReadConcern, ReadPreference, TransactionOptions, WriteConcern};

use crate::documents::{MessageDoc, Numbered, field};
use crate::error::{self, doing, is_duplicate_key};
use crate::room_lock::{self, Lease};
use crate::{MESSAGES, MongoStore};

impl MongoStore {
    /// Inserts `template` under a fresh number in one transaction that first writes the
    /// room's document. A concurrent insert into the same room writes that document too,
    /// so the server lets only one of them hold it until it commits or aborts; the other
    /// fails with a write conflict (`TransientTransactionError`) and the driver's
    /// convenient-transaction loop retries it with backoff, as it does a commit whose
    /// result is unknown (`UnknownTransactionCommitResult`). The number is taken after
    /// the room is held, so it is greater than that of every message already committed
    /// to the room, and every message still to come takes a greater one. The counter is
    /// advanced outside the transaction, so that inserts into different rooms never
    /// conflict; an attempt that aborts leaves a gap in the numbers, which is harmless.
    /// Errors of the adapter's own come back as [`mongodb::error::Error::custom`].
    pub(crate) async fn insert_holding_the_room(
        &self,
        template: &MessageDoc,
    ) -> Result<MessageDoc, mongodb::error::Error> {
        let mut session = self.client.start_session().await?;
        let options = TransactionOptions::builder()
            .read_concern(ReadConcern::snapshot())
            .write_concern(WriteConcern::majority())
            .build();
        session
            .start_transaction()
            .with_options(options)
            .and_run(
                (self, template),
                |session: &mut ClientSession, (store, template)| {
                    Box::pin(async move {
                        let held = store
                            .rooms
                            .update_one(
                                doc! { field::ID: template.chat_room_id.as_str() },
                                doc! { "$inc": { field::INSERTS: 1_i64 } },
                            )
                            .session(&mut *session)
                            .await?;
                        if held.matched_count == 0 {
                            return Err(mongodb::error::Error::custom(StoreError::Internal(
                                format!("no room {:?} to insert into", template.chat_room_id),
                            )));
                        }
                        let seq = store
                            .next_seq(MESSAGES)
                            .await
                            .map_err(mongodb::error::Error::custom)?;
                        let doc = template.numbered(seq);
                        store
                            .messages
                            .insert_one(&doc)
                            .session(&mut *session)
                            .await?;
                        Ok(doc)
                    })
                },
            )
            .await
    }

    /// Inserts `template` under a fresh number without a transaction, taking turns with
    /// every other insert into its room through the room's lease lock
    /// ([`room_lock`]): holding it, reads the number of the room's last message, then
    /// takes a number, then inserts the message as that one's successor (`prev`), and
    /// releases the lock whatever happened. The unique index on `(chatRoomId, prev)`
    /// fences the insert: should another insert have followed the same message meanwhile
    /// (this one's lease ran out while it stalled, or a clock running ahead took it over),
    /// this one is refused and starts again, so a message can only ever become visible
    /// after the room's last one, under a greater number. A duplicate client id returns
    /// the first message with `false`, as on the transactional path.
    pub(crate) async fn insert_taking_turns(
        &self,
        template: &MessageDoc,
        from: &UserId,
        client_id: Option<&str>,
    ) -> Result<(StoredMessage, bool), StoreError> {
        let room = template.chat_room_id.as_str();
        let deadline = Instant::now() + room_lock::WAIT;
        loop {
            let lease = self.locks.acquire(room, deadline).await?;
            let attempt = self.insert_after_the_last(template, &lease).await;
            lease.release().await;
            let (error, prev) = match attempt {
                Ok(doc) => return Ok((doc.into_message()?, true)),
                Err(Refused::Store(e)) => return Err(e),
                Err(Refused::Duplicate(error, prev)) => (error, prev),
            };
            // The unique (from, clientMessageId) index refused it: a concurrent call
            // with the same client id stored the message first.
            if let Some(cid) = client_id
                && let Some(existing) = self.find_by_client_id(from, cid, true).await?
            {
                return Ok((existing, false));
            }
            // The fence refused it: start again after the room's new last message.
            if self.has_successor(room, prev).await? {
                if Instant::now() >= deadline {
                    return Err(StoreError::Unavailable(format!(
                        "MongoDB: inserts into room {room} kept overtaking this one"
                    )));
                }
                tracing::debug!(room, prev, "a message insert was fenced off; retrying");
                continue;
            }
            return Err(StoreError::Internal(format!(
                "message id taken twice ({error})"
            )));
        }
    }

    /// One attempt of [`MongoStore::insert_taking_turns`], holding `lease`. The room's
    /// last message is read before the number is taken: a message already visible has
    /// had its number, so the new one is greater.
    async fn insert_after_the_last(
        &self,
        template: &MessageDoc,
        lease: &Lease,
    ) -> Result<MessageDoc, Refused> {
        lease.check()?;
        let last = self
            .messages
            .clone_with_type::<Numbered>()
            .find_one(doc! { field::ROOM: template.chat_room_id.as_str() })
            .sort(doc! { field::SEQ: -1 })
            .projection(doc! { field::SEQ: 1 })
            .selection_criteria(ReadPreference::Primary.into())
            .await
            .map_err(doing("reading a room's last message"))?;
        let prev = last.map_or(0, |Numbered { seq }| seq);
        let seq = self.next_seq(MESSAGES).await?;
        lease.check()?;
        let doc = template.following(prev, seq);
        match self.messages.insert_one(&doc).await {
            Ok(_) => Ok(doc),
            Err(e) if is_duplicate_key(&e) => Err(Refused::Duplicate(e, prev)),
            Err(e) => Err(Refused::Store(error::store_error("inserting a message", e))),
        }
    }

    /// Whether a message of `room` follows the one numbered `prev` (read from the primary,
    /// to see the write that a unique index just reported).
    async fn has_successor(&self, room: &str, prev: i64) -> Result<bool, StoreError> {
        let found = self
            .messages
            .clone_with_type::<Document>()
            .find_one(doc! { field::ROOM: room, field::PREV: prev })
            .projection(doc! { field::ID: 1 })
            .selection_criteria(ReadPreference::Primary.into())
            .await
            .map_err(doing("finding a message by its predecessor"))?;
        Ok(found.is_some())
    }
}

/// Why one attempt of a message insert without a transaction failed.
enum Refused {
    /// A unique index refused the message, which followed the message numbered `.1`.
    Duplicate(mongodb::error::Error, i64),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}
