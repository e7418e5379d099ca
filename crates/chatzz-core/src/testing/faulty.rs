//! A [`ChatStore`] decorator that injects failures, for testing what the use cases do
//! when storage fails: [`FaultyStore`] wraps any store and consults a shared
//! [`FaultPlan`] on every call.
//!
//! A planned fault either *refuses* the call (it never reaches the wrapped store and
//! reports [`StoreError::Unavailable`]) or *loses the reply* (the wrapped store runs the
//! call, then [`StoreError::Unavailable`] is reported instead of its answer: the
//! ambiguous case the port documents, "a write that reports this may or may not have
//! happened"). Faults are chosen by rules: the next `n` calls, every call, one call
//! counted from now, or each call with a probability drawn from a seeded generator, each
//! for any method, only writes, or one [`Method`].
//!
//! chatzz-core has no runtime, so a planned [`delay`](FaultPlan::delay) sleeps through a
//! function the test hands to [`FaultyStore::with_sleep`] (`tokio::time::sleep`, say).
//!
//! ```
//! # use chatzz_core::testing::faulty::{FaultyStore, Method};
//! # fn demo<S: chatzz_core::ChatStore>(inner: S) {
//! let store = FaultyStore::new(inner);
//! let plan = store.plan(); // a handle that stays with the test
//! plan.fail_next(2); // the next two calls, whatever they are, are refused
//! plan.lose_reply_next(Method::InsertMessage, 1); // then an insert happens but "fails"
//! plan.heal(); // ...or forget every rule
//! # }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::BoxFuture;

use crate::id::{ChatRoomId, MessageId, UserId};
use crate::message::{HistoryQuery, Inserted, MessageText, NewMessage, StoredMessage};
use crate::ports::{ChatStore, StoreError};
use crate::time::Timestamp;
use crate::user::{Blocks, ChatUser, ContactRecord, LinkOutcome, LinkedUser};

/// One method of [`ChatStore`]. Parses from and displays as its Rust name
/// (`"insert_message"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    RegisterUser,
    FindUser,
    SetLastOnline,
    Link,
    FindRoom,
    Contacts,
    LinkedUsers,
    InsertMessage,
    FindMessage,
    MarkSent,
    ReadUpTo,
    EditMessage,
    DeleteMessage,
    Block,
    Unblock,
    BlocksBetween,
    History,
    Undelivered,
    ClaimNotifications,
    FinishNotification,
    RetryNotification,
    PendingNotifications,
}

impl Method {
    /// Every method, in the order the port declares them.
    pub const ALL: [Method; 22] = [
        Method::RegisterUser,
        Method::FindUser,
        Method::SetLastOnline,
        Method::Link,
        Method::FindRoom,
        Method::Contacts,
        Method::LinkedUsers,
        Method::InsertMessage,
        Method::FindMessage,
        Method::MarkSent,
        Method::ReadUpTo,
        Method::EditMessage,
        Method::DeleteMessage,
        Method::Block,
        Method::Unblock,
        Method::BlocksBetween,
        Method::History,
        Method::Undelivered,
        Method::ClaimNotifications,
        Method::FinishNotification,
        Method::RetryNotification,
        Method::PendingNotifications,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::RegisterUser => "register_user",
            Method::FindUser => "find_user",
            Method::SetLastOnline => "set_last_online",
            Method::Link => "link",
            Method::FindRoom => "find_room",
            Method::Contacts => "contacts",
            Method::LinkedUsers => "linked_users",
            Method::InsertMessage => "insert_message",
            Method::FindMessage => "find_message",
            Method::MarkSent => "mark_sent",
            Method::ReadUpTo => "read_up_to",
            Method::EditMessage => "edit_message",
            Method::DeleteMessage => "delete_message",
            Method::Block => "block",
            Method::Unblock => "unblock",
            Method::BlocksBetween => "blocks_between",
            Method::History => "history",
            Method::Undelivered => "undelivered",
            Method::ClaimNotifications => "claim_notifications",
            Method::FinishNotification => "finish_notification",
            Method::RetryNotification => "retry_notification",
            Method::PendingNotifications => "pending_notifications",
        }
    }

    /// Whether the method may change what is stored.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Method::RegisterUser
                | Method::SetLastOnline
                | Method::Link
                | Method::InsertMessage
                | Method::MarkSent
                | Method::ReadUpTo
                | Method::EditMessage
                | Method::DeleteMessage
                | Method::Block
                | Method::Unblock
                | Method::ClaimNotifications
                | Method::FinishNotification
                | Method::RetryNotification
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not one of [`ChatStore`]'s methods.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no ChatStore method is called {0:?}")]
pub struct UnknownMethod(pub String);

impl std::str::FromStr for Method {
    type Err = UnknownMethod;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| UnknownMethod(name.to_owned()))
    }
}

/// Which calls a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Any,
    /// Calls of methods that may change what is stored ([`Method::is_write`]).
    Writes,
    Only(Method),
}

impl Target {
    fn matches(self, method: Method) -> bool {
        match self {
            Target::Any => true,
            Target::Writes => method.is_write(),
            Target::Only(m) => m == method,
        }
    }
}

impl From<Method> for Target {
    fn from(method: Method) -> Self {
        Target::Only(method)
    }
}

/// How an injected failure fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The call never reaches the wrapped store and reports `Unavailable`.
    Refuse,
    /// The wrapped store runs the call; `Unavailable` is reported instead of its answer
    /// (a write that happened although the caller was told it failed).
    LoseReply,
}

/// When a rule fires, counted over the calls its [`Target`] matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// The next `n` matching calls; the rule is then spent.
    Next(u32),
    /// Let `skip` matching calls through, fail the one after, and be spent.
    After { skip: u32 },
    /// Every matching call, until [`FaultPlan::heal`].
    Always,
    /// Each matching call with this probability (0.0 to 1.0), drawn from a generator
    /// seeded with `seed`: the same seed and the same calls give the same failures.
    Chance { probability: f64, seed: u64 },
}

/// What happened to one call that went through a [`FaultyStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub method: Method,
    /// `None` when the call went through untouched.
    pub fault: Option<FaultKind>,
}

#[derive(Debug)]
enum Firing {
    Next(u32),
    After(u32),
    Always,
    Chance { probability: f64, rng: SplitMix64 },
}

#[derive(Debug)]
struct Rule {
    target: Target,
    kind: FaultKind,
    firing: Firing,
}

impl Rule {
    /// Whether the rule fails this matching call, updating its counters.
    fn fires(&mut self) -> bool {
        match &mut self.firing {
            Firing::Next(n) => {
                if *n == 0 {
                    return false;
                }
                *n -= 1;
                true
            }
            Firing::After(skip) => match skip.checked_sub(1) {
                Some(left) => {
                    *skip = left;
                    false
                }
                None => {
                    self.firing = Firing::Next(0);
                    true
                }
            },
            Firing::Always => true,
            Firing::Chance { probability, rng } => rng.next_unit() < *probability,
        }
    }

    fn spent(&self) -> bool {
        matches!(self.firing, Firing::Next(0))
    }
}

/// A small, good-enough generator (SplitMix64), so that chatzz-core needs no `rand`.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Default)]
struct PlanState {
    rules: Vec<Rule>,
    delays: Vec<(Target, Duration)>,
    calls: Vec<Call>,
}

/// What to inject, shared between a [`FaultyStore`] and the test that steers it: clone it
/// freely, every clone is the same plan. Rules are consulted in the order they were
/// added; the first that fires decides the call, and the rules after it do not see that
/// call (so do not count it). An empty plan passes every call through.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    state: Arc<Mutex<PlanState>>,
}

impl FaultPlan {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut PlanState) -> T) -> T {
        // A test that panicked mid-call leaves consistent data: every change is one push
        // or one counter update.
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        f(&mut guard)
    }

    /// Adds a rule.
    pub fn inject(&self, target: impl Into<Target>, kind: FaultKind, trigger: Trigger) {
        let firing = match trigger {
            Trigger::Next(n) => Firing::Next(n),
            Trigger::After { skip } => Firing::After(skip),
            Trigger::Always => Firing::Always,
            Trigger::Chance { probability, seed } => Firing::Chance {
                probability,
                rng: SplitMix64(seed),
            },
        };
        let target = target.into();
        self.with(|s| {
            s.rules.push(Rule {
                target,
                kind,
                firing,
            })
        });
    }

    /// Refuses the next `n` calls, whatever their method.
    pub fn fail_next(&self, n: u32) {
        self.inject(Target::Any, FaultKind::Refuse, Trigger::Next(n));
    }

    /// Refuses the next `n` calls of `method`.
    pub fn fail_next_of(&self, method: Method, n: u32) {
        self.inject(method, FaultKind::Refuse, Trigger::Next(n));
    }

    /// Refuses every call of `method` until [`heal`](Self::heal).
    pub fn fail_method(&self, method: Method) {
        self.inject(method, FaultKind::Refuse, Trigger::Always);
    }

    /// Refuses every call until [`heal`](Self::heal): the store is down.
    pub fn fail_all(&self) {
        self.inject(Target::Any, FaultKind::Refuse, Trigger::Always);
    }

    /// Refuses the `nth` call (1-based) from now, whatever its method.
    pub fn fail_call(&self, nth: u32) {
        self.inject(
            Target::Any,
            FaultKind::Refuse,
            Trigger::After {
                skip: nth.saturating_sub(1),
            },
        );
    }

    /// Runs the next `n` calls of `method` in the wrapped store but reports them
    /// `Unavailable`.
    pub fn lose_reply_next(&self, method: Method, n: u32) {
        self.inject(method, FaultKind::LoseReply, Trigger::Next(n));
    }

    /// Runs the `nth` call (1-based) from now in the wrapped store but reports it
    /// `Unavailable`, whatever its method.
    pub fn lose_reply_of_call(&self, nth: u32) {
        self.inject(
            Target::Any,
            FaultKind::LoseReply,
            Trigger::After {
                skip: nth.saturating_sub(1),
            },
        );
    }

    /// Refuses each call with `probability`, drawn from a generator seeded with `seed`.
    pub fn fail_randomly(&self, probability: f64, seed: u64) {
        self.inject(
            Target::Any,
            FaultKind::Refuse,
            Trigger::Chance { probability, seed },
        );
    }

    /// Sleeps `duration` before each matching call, through the function given to
    /// [`FaultyStore::with_sleep`]. A store without one panics on a delayed call rather
    /// than silently not delaying.
    pub fn delay(&self, target: impl Into<Target>, duration: Duration) {
        let target = target.into();
        self.with(|s| s.delays.push((target, duration)));
    }

    /// Forgets every rule and delay: the store works again. The call log is kept.
    pub fn heal(&self) {
        self.with(|s| {
            s.rules.clear();
            s.delays.clear();
        });
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.with(|s| s.calls.clone())
    }

    /// How many calls were made so far.
    pub fn call_count(&self) -> usize {
        self.with(|s| s.calls.len())
    }

    /// How many calls were made to `method` so far.
    pub fn calls_to(&self, method: Method) -> usize {
        self.with(|s| s.calls.iter().filter(|c| c.method == method).count())
    }

    /// How many failures were injected so far.
    pub fn injected(&self) -> usize {
        self.with(|s| s.calls.iter().filter(|c| c.fault.is_some()).count())
    }

    /// Decides one call: how long to sleep first and which fault, if any, to inject.
    fn decide(&self, method: Method) -> (Option<Duration>, Option<FaultKind>) {
        self.with(|s| {
            let delay = s
                .delays
                .iter()
                .find(|(target, _)| target.matches(method))
                .map(|(_, d)| *d);
            let mut fault = None;
            for rule in s.rules.iter_mut().filter(|r| r.target.matches(method)) {
                if rule.fires() {
                    fault = Some(rule.kind);
                    break;
                }
            }
            s.rules.retain(|r| !r.spent());
            s.calls.push(Call { method, fault });
            (delay, fault)
        })
    }
}

/// An async sleep, injected because chatzz-core has no runtime.
pub type Sleep = Arc<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>;

/// A [`ChatStore`] that fails as its [`FaultPlan`] says and otherwise passes every call
/// to the store it wraps.
pub struct FaultyStore<S> {
    inner: S,
    plan: FaultPlan,
    sleep: Option<Sleep>,
}

impl<S: fmt::Debug> fmt::Debug for FaultyStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyStore")
            .field("inner", &self.inner)
            .field("plan", &self.plan)
            .field("has_sleep", &self.sleep.is_some())
            .finish()
    }
}

impl<S: ChatStore> FaultyStore<S> {
    /// Wraps `inner` with an empty plan: every call goes through until the plan changes.
    pub fn new(inner: S) -> Self {
        Self::with_plan(inner, FaultPlan::new())
    }

    /// Wraps `inner`, steered by `plan`.
    pub fn with_plan(inner: S, plan: FaultPlan) -> Self {
        Self {
            inner,
            plan,
            sleep: None,
        }
    }

    /// Gives planned delays a way to sleep.
    pub fn with_sleep(
        mut self,
        sleep: impl Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Self {
        self.sleep = Some(Arc::new(sleep));
        self
    }

    /// A handle on the plan (the same plan, not a copy).
    pub fn plan(&self) -> FaultPlan {
        self.plan.clone()
    }

    /// The wrapped store, to look at what is really stored without injecting anything.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Runs one call under the plan.
    async fn call<'a, T, F>(
        &'a self,
        method: Method,
        run: impl FnOnce(&'a S) -> F,
    ) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        let (delay, fault) = self.plan.decide(method);
        if let Some(duration) = delay {
            let Some(sleep) = &self.sleep else {
                panic!(
                    "FaultyStore: a delay is planned for {method} but no sleep function was given \
                     (build the store with FaultyStore::with_sleep)"
                );
            };
            sleep(duration).await;
        }
        let injected = || StoreError::Unavailable(format!("injected failure of {method}"));
        match fault {
            None => run(&self.inner).await,
            Some(FaultKind::Refuse) => Err(injected()),
            // The store's own error, if it had one, is as good an answer as ours.
            Some(FaultKind::LoseReply) => run(&self.inner).await.and_then(|_| Err(injected())),
        }
    }
}

#[async_trait]
impl<S: ChatStore> ChatStore for FaultyStore<S> {
    async fn register_user(&self, user: &UserId) -> Result<ChatUser, StoreError> {
        self.call(Method::RegisterUser, |s| s.register_user(user))
            .await
    }

    async fn find_user(&self, user: &UserId) -> Result<Option<ChatUser>, StoreError> {
        self.call(Method::FindUser, |s| s.find_user(user)).await
    }

    async fn set_last_online(&self, user: &UserId, at: Timestamp) -> Result<(), StoreError> {
        self.call(Method::SetLastOnline, |s| s.set_last_online(user, at))
            .await
    }

    async fn link(&self, a: &UserId, b: &UserId, at: Timestamp) -> Result<LinkOutcome, StoreError> {
        self.call(Method::Link, |s| s.link(a, b, at)).await
    }

    async fn find_room(&self, a: &UserId, b: &UserId) -> Result<Option<ChatRoomId>, StoreError> {
        self.call(Method::FindRoom, |s| s.find_room(a, b)).await
    }

    async fn contacts(&self, user: &UserId) -> Result<Vec<ContactRecord>, StoreError> {
        self.call(Method::Contacts, |s| s.contacts(user)).await
    }

    async fn linked_users(&self, user: &UserId) -> Result<Vec<LinkedUser>, StoreError> {
        self.call(Method::LinkedUsers, |s| s.linked_users(user))
            .await
    }

    async fn insert_message(&self, message: NewMessage) -> Result<Inserted, StoreError> {
        self.call(Method::InsertMessage, |s| s.insert_message(message))
            .await
    }

    async fn find_message(&self, id: &MessageId) -> Result<Option<StoredMessage>, StoreError> {
        self.call(Method::FindMessage, |s| s.find_message(id)).await
    }

    async fn mark_sent(&self, ids: &[MessageId]) -> Result<Vec<StoredMessage>, StoreError> {
        self.call(Method::MarkSent, |s| s.mark_sent(ids)).await
    }

    async fn read_up_to(
        &self,
        reader: &UserId,
        room: &ChatRoomId,
        up_to: &MessageId,
        at: Timestamp,
    ) -> Result<usize, StoreError> {
        self.call(Method::ReadUpTo, |s| s.read_up_to(reader, room, up_to, at))
            .await
    }

    async fn edit_message(
        &self,
        id: &MessageId,
        text: &MessageText,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.call(Method::EditMessage, |s| s.edit_message(id, text, at))
            .await
    }

    async fn delete_message(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.call(Method::DeleteMessage, |s| s.delete_message(id, at))
            .await
    }

    async fn history(
        &self,
        room: &ChatRoomId,
        query: &HistoryQuery,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.call(Method::History, |s| s.history(room, query)).await
    }

    async fn undelivered(
        &self,
        to: &UserId,
        per_sender: usize,
        total: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.call(Method::Undelivered, |s| {
            s.undelivered(to, per_sender, total)
        })
        .await
    }

    async fn block(
        &self,
        blocker: &UserId,
        blocked: &UserId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.call(Method::Block, |s| s.block(blocker, blocked, at))
            .await
    }

    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError> {
        self.call(Method::Unblock, |s| s.unblock(blocker, blocked))
            .await
    }

    async fn blocks_between(&self, a: &UserId, b: &UserId) -> Result<Blocks, StoreError> {
        self.call(Method::BlocksBetween, |s| s.blocks_between(a, b))
            .await
    }

    async fn claim_notifications(
        &self,
        claim: &crate::notification::NotificationClaim,
    ) -> Result<Vec<crate::notification::PendingNotification>, StoreError> {
        self.call(Method::ClaimNotifications, |s| s.claim_notifications(claim))
            .await
    }

    async fn finish_notification(&self, message: &MessageId) -> Result<(), StoreError> {
        self.call(Method::FinishNotification, |s| {
            s.finish_notification(message)
        })
        .await
    }

    async fn retry_notification(
        &self,
        message: &MessageId,
        owner: &str,
        attempts: u32,
        due: Timestamp,
    ) -> Result<(), StoreError> {
        self.call(Method::RetryNotification, |s| {
            s.retry_notification(message, owner, attempts, due)
        })
        .await
    }

    async fn pending_notifications(&self) -> Result<u64, StoreError> {
        self.call(Method::PendingNotifications, |s| s.pending_notifications())
            .await
    }

    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
}

#[cfg(test)]
mod tests;
