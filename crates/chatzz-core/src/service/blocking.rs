use std::sync::atomic::Ordering;

use serde::Serialize;

use super::{ChatService, Session};
use crate::error::{ChatError, ErrorCode};
use crate::event::Outcome;
use crate::id::UserId;
use crate::rate::RatedEvent;
use crate::typing::BLOCKS_FRESH_MS;

/// The reply of `block-user` and `unblock-user`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockState {
    pub user_id: UserId,
    pub blocked: bool,
}

pub(super) fn forbidden_between() -> ChatError {
    ChatError::new(
        ErrorCode::Forbidden,
        "one of you blocks the other: nothing can be sent or added between you",
    )
}

impl ChatService {
    /// `block-user` (`blocked: true`) and `unblock-user`: the session's user blocks or
    /// unblocks a known user, contact or not. Idempotent; nothing is emitted, so the other
    /// user is not told. Counts against the `add-chat-user` rate.
    pub async fn set_blocked(
        &self,
        session: &Session,
        other: &UserId,
        blocked: bool,
    ) -> Result<Outcome<BlockState>, ChatError> {
        let me = &session.user;
        if me == other {
            return Err(ChatError::invalid("you cannot block yourself"));
        }
        self.check_rate(RatedEvent::AddChatUser, session)?;
        if self.known_details(other).await?.is_none() {
            return Err(ChatError::new(ErrorCode::UnknownUser, "no such user"));
        }
        if blocked {
            self.store.block(me, other, self.clock.now()).await?;
            // A "stopped typing" sent later would tell them something.
            self.typists.forget(me, other);
        } else {
            self.store.unblock(me, other).await?;
        }
        self.blocks.forget(me, other);
        if let Some(news) = &self.news {
            news.blocks_changed(me, other).await?;
        }
        Ok(Outcome::new(
            BlockState {
                user_id: other.clone(),
                blocked,
            },
            Vec::new(),
        ))
    }

    /// Another server of the cluster says the blocks between `a` and `b` changed: what
    /// this one cached of them, and who of them typed to whom, is forgotten.
    pub fn blocks_changed_elsewhere(&self, a: &UserId, b: &UserId) {
        self.blocks.forget(a, b);
        self.typists.forget(a, b);
    }

    /// This server now hears the cluster's news (its subscription is up, again): what
    /// it cached may have missed some, so it forgets it all, then trusts what it reads
    /// until [`cluster_news_lost`](Self::cluster_news_lost).
    pub fn cluster_news_heard(&self) {
        self.blocks.forget_all();
        self.hears_news.store(true, Ordering::SeqCst);
    }

    /// This server may miss the cluster's news (its connection dropped): until heard
    /// again, cached blocks count for [`BLOCKS_FRESH_MS`] only.
    pub fn cluster_news_lost(&self) {
        self.hears_news.store(false, Ordering::SeqCst);
    }

    /// How old cached blocks may be: any age while every change is heard of.
    fn blocks_max_age(&self) -> Option<i64> {
        (!self.hears_news.load(Ordering::SeqCst)).then_some(BLOCKS_FRESH_MS)
    }

    /// Fails `forbidden` if either of `a` and `b` blocks the other. A server of a
    /// cluster asks the store, so that a block acknowledged by another server holds at
    /// once; a single server answers from what it cached, which is exact there: every
    /// change passes through it and forgets the pair before it is acknowledged, and a
    /// read older than that is never cached.
    pub(super) async fn not_blocked(&self, a: &UserId, b: &UserId) -> Result<(), ChatError> {
        let now = self.clock.now();
        let cached = match self.news {
            None => self.blocks.fresh(a, b, now, None),
            Some(_) => None,
        };
        let blocks = match cached {
            Some(blocks) => blocks,
            None => {
                let began = self.blocks.epoch();
                let blocks = self.store.blocks_between(a, b).await?;
                self.blocks.remember(a, b, blocks, now, began);
                blocks
            }
        };
        if blocks.any() {
            return Err(forbidden_between());
        }
        Ok(())
    }

    /// As [`not_blocked`](Self::not_blocked) from what this server knows (typing asks
    /// no store once it knows the pair): a block made through another server is heard
    /// of through the cluster's news (or, while that is down, taken into account within
    /// [`BLOCKS_FRESH_MS`]); with the store down, what was seen last stands.
    pub(super) async fn not_blocked_lately(&self, a: &UserId, b: &UserId) -> Result<(), ChatError> {
        let now = self.clock.now();
        let began = self.blocks.epoch();
        let blocks = match self.blocks.fresh(a, b, now, self.blocks_max_age()) {
            Some(blocks) => blocks,
            None => match self.store.blocks_between(a, b).await {
                Ok(blocks) => {
                    self.blocks.remember(a, b, blocks, now, began);
                    blocks
                }
                Err(err) => self.blocks.stale(a, b).ok_or(err)?,
            },
        };
        if blocks.any() {
            return Err(forbidden_between());
        }
        Ok(())
    }
}
