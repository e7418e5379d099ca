//! The schema: the collections' indexes and the sequence counters, created at startup
//! (idempotently, so that many processes may start at once), and the question whether the
//! server runs transactions.

use chatzz_core::{MessageStatus, StoreError};
use mongodb::bson::{Document, doc};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, Database, IndexModel};

use crate::MongoStore;
use crate::documents::{CounterDoc, Numbered, field};
use crate::error::{self, doing, is_duplicate_key};

impl MongoStore {
    pub(crate) async fn create_indexes(&self) -> Result<(), StoreError> {
        let index = |name: &str, keys: Document, unique: bool| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .name(name.to_owned())
                        .unique(unique.then_some(true))
                        .build(),
                )
                .build()
        };
        self.rooms
            .create_indexes([
                index("pair", doc! { field::A: 1, field::B: 1 }, true),
                index("a_seq", doc! { field::A: 1, field::SEQ: 1 }, false),
                index("b_seq", doc! { field::B: 1, field::SEQ: 1 }, false),
            ])
            .await
            .map_err(doing("creating the rooms' indexes"))?;
        // The fence of inserts made without a transaction: one successor per message.
        let chain = IndexModel::builder()
            .keys(doc! { field::ROOM: 1, field::PREV: 1 })
            .options(
                IndexOptions::builder()
                    .name("chatRoomId_prev".to_owned())
                    .unique(true)
                    .partial_filter_expression(doc! { field::PREV: { "$exists": true } })
                    .build(),
            )
            .build();
        let client_id = IndexModel::builder()
            .keys(doc! { field::FROM: 1, field::CLIENT_MESSAGE_ID: 1 })
            .options(
                IndexOptions::builder()
                    .name("from_clientMessageId".to_owned())
                    .unique(true)
                    .partial_filter_expression(
                        doc! { field::CLIENT_MESSAGE_ID: { "$exists": true } },
                    )
                    .build(),
            )
            .build();
        // Only the messages not read yet, by room and recipient: an unread count (above
        // a read position) and a read up to a message walk just those. (`$in` in a
        // partial filter needs MongoDB 6.0; `$ne`/`$not` are not allowed there.)
        let unread = IndexModel::builder()
            .keys(doc! { field::ROOM: 1, field::TO: 1, field::SEQ: 1 })
            .options(
                IndexOptions::builder()
                    .name("unread_chatRoomId_to_seq".to_owned())
                    .partial_filter_expression(doc! { field::STATUS: { "$in": not_read() } })
                    .build(),
            )
            .build();
        // Only the messages that owe a notification, by recipient and number: a claim
        // lists the recipients (a distinct scan) and finds each one's oldest (the first
        // entry of its range). Partial, not sparse: a sparse compound index would hold
        // every message, as every message has `to`. A query must repeat the filter
        // (`owed()`) for the server to use it. `seq` rather than `_id`: the same order
        // (ids are the zero-padded numbers), as every other range and sort here uses,
        // and the stand-in cannot index `_id` inside a compound key. Created at startup
        // like the others, so a database from before gets it on its first start (where
        // no message owes one, it stays empty).
        let owed_index = IndexModel::builder()
            .keys(doc! { field::TO: 1, field::SEQ: 1 })
            .options(
                IndexOptions::builder()
                    .name("notify_to_seq".to_owned())
                    .partial_filter_expression(owed())
                    .build(),
            )
            .build();
        self.messages
            .create_indexes([
                client_id,
                chain,
                unread,
                owed_index,
                index(
                    "chatRoomId_seq",
                    doc! { field::ROOM: 1, field::SEQ: 1 },
                    false,
                ),
                index(
                    "to_status_from_seq",
                    doc! { field::TO: 1, field::STATUS: 1, field::FROM: 1, field::SEQ: 1 },
                    false,
                ),
            ])
            .await
            .map_err(doing("creating the messages' indexes"))?;
        self.reads
            .create_indexes([index(
                "reader_chatRoomId",
                doc! { field::READER: 1, field::ROOM: 1 },
                true,
            )])
            .await
            .map_err(doing("creating the read positions' index"))?;
        self.blocks
            .create_indexes([
                index(
                    "blocker_blocked",
                    doc! { field::BLOCKER: 1, field::BLOCKED: 1 },
                    true,
                ),
                index(
                    "blocked_blocker",
                    doc! { field::BLOCKED: 1, field::BLOCKER: 1 },
                    false,
                ),
            ])
            .await
            .map_err(doing("creating the blocks' indexes"))?;
        Ok(())
    }

    /// Makes sure counter `name` exists and is at least the highest `seq` in `numbered`,
    /// so that a lost or restored counter never hands out a number twice.
    pub(crate) async fn create_counter<T: Send + Sync>(
        &self,
        name: &str,
        numbered: &Collection<T>,
    ) -> Result<(), StoreError> {
        let fresh = CounterDoc {
            id: name.to_owned(),
            seq: 0,
        };
        match self.counters.insert_one(&fresh).await {
            Ok(_) => {}
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(error::store_error("creating a counter", e)),
        }
        // Ids are the zero-padded numbers, so the greatest `_id` has the greatest `seq`,
        // and the `_id` index finds it without a scan.
        let highest = numbered
            .clone_with_type::<Numbered>()
            .find_one(doc! {})
            .sort(doc! { field::ID: -1 })
            .projection(doc! { field::SEQ: 1 })
            .await
            .map_err(doing("reading the highest sequence number"))?;
        if let Some(Numbered { seq: highest }) = highest {
            self.counters
                .update_one(
                    doc! { field::ID: name },
                    doc! { "$max": { field::SEQ: highest } },
                )
                .await
                .map_err(doing("raising a counter"))?;
        }
        Ok(())
    }

    /// The next number of counter `name`: one atomic `$inc` on the server.
    pub(crate) async fn next_seq(&self, name: &str) -> Result<i64, StoreError> {
        let counter = self
            .counters
            .find_one_and_update(
                doc! { field::ID: name },
                doc! { "$inc": { field::SEQ: 1_i64 } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
            .map_err(doing("taking a sequence number"))?
            .ok_or_else(|| StoreError::Internal(format!("counter {name:?} vanished")))?;
        if counter.seq <= 0 {
            return Err(StoreError::Internal(format!(
                "counter {name:?} is at {}",
                counter.seq
            )));
        }
        Ok(counter.seq)
    }
}

/// The stored statuses of a message not read yet: the filter of the `unread` index,
/// which a query must repeat for the server to use that index.
pub(crate) fn not_read() -> Vec<&'static str> {
    vec![
        MessageStatus::NotSent.as_str(),
        MessageStatus::Sent.as_str(),
    ]
}

/// The messages that owe a notification: the filter of the `notify_to_seq` index, which
/// a query must repeat for the server to use that index. `notifyDue` is never `null`:
/// it is set on insert and removed (`$unset`) when the notification is finished.
pub(crate) fn owed() -> Document {
    doc! { field::NOTIFY_DUE: { "$exists": true } }
}

/// Every message that owes a notification, as a query that walks the whole
/// `notify_to_seq` index: [`owed`], plus a range on the index's first key that every
/// message is in (`to` is always a string). Without a predicate on one of its keys the
/// planner would not consider the index at all, and would scan the collection.
pub(crate) fn all_owed() -> Document {
    let mut filter = owed();
    filter.insert(field::TO, doc! { "$type": "string" });
    filter
}

/// Whether the server behind `db` runs multi-document transactions: a replica set member
/// answers `hello` with its `setName`, a `mongos` with `msg: "isdbgrid"`; a standalone
/// server with neither.
pub(crate) async fn supports_transactions(db: &Database) -> Result<bool, StoreError> {
    let hello = db
        .run_command(doc! { "hello": 1 })
        .await
        .map_err(doing("asking the server what it is (hello)"))?;
    Ok(hello.get_str("setName").is_ok() || hello.get_str("msg") == Ok("isdbgrid"))
}
