//! Turn-taking per room without transactions: a lease on a lock document per room, in
//! `{prefix}room_locks` as `{_id: roomId, owner?, until}`.
//!
//! - Acquire: one `updateOne` with upsert, filter `{_id: room, until: {$lte: now}}`,
//!   update `{$set: {owner: token, until: now + LEASE}}`. A free or expired lock
//!   matches and is taken; a missing one is inserted, already taken; a live one does
//!   not match, so the upsert tries to insert a second document with that `_id`, and
//!   the `_id` index refuses it (duplicate key): held by someone else. Each outcome is
//!   decided by the server on one document, so two acquirers can never both win.
//! - Release: `updateOne({_id: room, owner: token}, {$set: {until: 0}, $unset: {owner}})`,
//!   which does nothing if the lease was lost to someone else meanwhile. The inserts run
//!   in a task of their own, so that a caller that gives up (a store timeout) does not
//!   cut them off while they hold a lock; and a [`Lease`] dropped before it was released
//!   all the same (a panic, a runtime shutting down) is released from a spawned task.
//! - The lease bounds how long a holder that died without releasing blocks the room.
//!   Times are the acquirer's wall clock in epoch milliseconds, so the clocks of the
//!   processes sharing a database must agree to well within [`LEASE`]; a clock that runs
//!   ahead can take over a live lease early. That, or a holder stalled past its lease,
//!   costs no order: the insert itself is fenced (see the crate documentation).

use std::hash::BuildHasher;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chatzz_core::StoreError;
use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};

use crate::documents::field;
use crate::error::{doing, is_duplicate_key, store_error};

/// How long a lease lasts: three times the server's default store timeout (10 s). A live
/// holder never needs it all: it gives the room up once less than [`MARGIN`] is left,
/// and the insert's task is stopped when the lease is over.
pub(crate) const LEASE: Duration = Duration::from_secs(30);

/// A holder goes no further, and gives the room up, once less than this is left of its
/// lease: room for the next step to finish, and for clocks that disagree.
pub(crate) const MARGIN: Duration = Duration::from_secs(10);

/// How long a message insert waits for its room before it gives up as `Unavailable`.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// The first pause between attempts on a held lock, doubled after each failed one up
/// to [`MAX_BACKOFF`]; each pause is a random part (half to all) of that.
const FIRST_BACKOFF: Duration = Duration::from_millis(2);
const MAX_BACKOFF: Duration = Duration::from_millis(50);

/// The per-room lock documents.
#[derive(Debug, Clone)]
pub(crate) struct RoomLocks {
    locks: Collection<Document>,
}

impl RoomLocks {
    pub fn new(locks: Collection<Document>) -> Self {
        Self { locks }
    }

    /// One attempt: the lease on `room`'s lock, or `None` if someone else holds it.
    pub async fn try_acquire(&self, room: &str) -> Result<Option<Lease>, StoreError> {
        let owner = ObjectId::new().to_hex();
        // Taken before asking: the lease the server records lasts at least this long.
        let taken = Instant::now();
        let now = now_millis();
        let until = now.saturating_add(millis(LEASE));
        let update = doc! { "$set": { field::OWNER: &owner, field::UNTIL: until } };
        // Held, as far as anyone can tell, from the moment the request is sent: dropped
        // before the answer (or after an error that leaves it unknown), it is released.
        let mut lease = Lease {
            locks: self.locks.clone(),
            room: room.to_owned(),
            owner,
            taken,
            held: true,
        };
        let acquired = self
            .locks
            .update_one(
                doc! { field::ID: room, field::UNTIL: { "$lte": now } },
                update,
            )
            .upsert(true)
            .await;
        match acquired {
            Ok(_) => Ok(Some(lease)),
            // The lock exists and its lease runs: the upsert's insert hit the `_id`.
            Err(e) if is_duplicate_key(&e) => {
                lease.held = false;
                Ok(None)
            }
            Err(e) => Err(store_error("locking a room", e)),
        }
    }

    /// The lease on `room`'s lock, waiting with jittered backoff while someone else
    /// holds it; `Unavailable` once `deadline` has passed (one attempt is always made).
    pub async fn acquire(&self, room: &str, deadline: Instant) -> Result<Lease, StoreError> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            if let Some(lease) = self.try_acquire(room).await? {
                return Ok(lease);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable(format!(
                    "MongoDB: room {room} stayed locked by another insert for {WAIT:?} \
                     (a holder that died keeps it for up to {LEASE:?})"
                )));
            }
            tokio::time::sleep(jittered(backoff).min(left)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// A held lock. Release it with [`Lease::release`]; dropping it unreleased releases it
/// in the background.
#[derive(Debug)]
pub(crate) struct Lease {
    locks: Collection<Document>,
    room: String,
    owner: String,
    taken: Instant,
    held: bool,
}

impl Lease {
    /// `Unavailable` once less than [`MARGIN`] is left of the lease: the caller must then
    /// stop and release, as the room may soon be someone else's.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.taken.elapsed() + MARGIN < LEASE {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "MongoDB: the insert into room {} outlasted its lock's lease",
                self.room
            )))
        }
    }

    /// Frees the lock, if it is still this lease's. A failure is logged, not returned:
    /// the lease runs out by itself.
    pub async fn release(mut self) {
        let released = release(&self.locks, &self.room, &self.owner).await;
        self.held = false;
        if let Err(e) = released {
            tracing::warn!(
                room = self.room.as_str(),
                "could not release a room lock; it frees itself within {LEASE:?}: {e}"
            );
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        // Cancelled while holding: release from a task of its own. Without a runtime
        // (never the case while the driver runs), the lease runs out instead.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let locks = self.locks.clone();
            let room = std::mem::take(&mut self.room);
            let owner = std::mem::take(&mut self.owner);
            runtime.spawn(async move {
                if let Err(e) = release(&locks, &room, &owner).await {
                    tracing::warn!(
                        room = room.as_str(),
                        "could not release a room lock; it frees itself within {LEASE:?}: {e}"
                    );
                }
            });
        }
    }
}

async fn release(locks: &Collection<Document>, room: &str, owner: &str) -> Result<(), StoreError> {
    locks
        .update_one(
            doc! { field::ID: room, field::OWNER: owner },
            doc! { "$set": { field::UNTIL: 0_i64 }, "$unset": { field::OWNER: "" } },
        )
        .await
        .map(|_| ())
        .map_err(doing("releasing a room lock"))
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A random duration from half of `max` to `max`, so that waiters spread out.
fn jittered(max: Duration) -> Duration {
    let half = max / 2;
    let span = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let random = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    half + Duration::from_nanos(random % span.saturating_add(1))
}
