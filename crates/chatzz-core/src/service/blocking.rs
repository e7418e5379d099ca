use serde::Serialize;

use super::{ChatService, Session};
use crate::error::{ChatError, ErrorCode};
use crate::event::Outcome;
use crate::id::UserId;
use crate::rate::RatedEvent;

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
        Ok(Outcome::new(
            BlockState {
                user_id: other.clone(),
                blocked,
            },
            Vec::new(),
        ))
    }

    /// Fails `forbidden` if either of `a` and `b` blocks the other (asked of the store).
    pub(super) async fn not_blocked(&self, a: &UserId, b: &UserId) -> Result<(), ChatError> {
        let blocks = self.store.blocks_between(a, b).await?;
        self.blocks.remember(a, b, blocks, self.clock.now());
        if blocks.any() {
            return Err(forbidden_between());
        }
        Ok(())
    }

    /// As [`not_blocked`](Self::not_blocked) from what this server saw lately (typing
    /// asks no store while it knows the pair): a block made through another server takes
    /// effect here within the cache's few seconds; with the store down, what was seen
    /// last stands.
    pub(super) async fn not_blocked_lately(&self, a: &UserId, b: &UserId) -> Result<(), ChatError> {
        let now = self.clock.now();
        let blocks = match self.blocks.fresh(a, b, now) {
            Some(blocks) => blocks,
            None => match self.store.blocks_between(a, b).await {
                Ok(blocks) => {
                    self.blocks.remember(a, b, blocks, now);
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
