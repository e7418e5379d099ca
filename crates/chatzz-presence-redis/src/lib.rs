//! Cluster-wide presence for chatzz in Redis: a user is online while any server holds a
//! live socket of theirs. Every change is one Lua script, so that each flip of a user's
//! presence is reported to exactly one server however their sockets race. Each server
//! holds a lease it renews on every [`sweep`](PresenceRegistry::sweep); a server whose
//! lease ran out (it died, or lost Redis) has its sockets taken out of presence by the
//! first server that sweeps after that, which then announces those users offline. A
//! swept server that comes back puts its live sockets back on its next sweep.
//!
//! Keys, under a prefix (default `chatzz:presence`) wrapped in a hash tag so that they
//! share one Redis Cluster slot: `user:<id>` (the user's live sockets, as
//! `"<server> <socket>"`), `server:<server>` (users with a socket on that server),
//! `online` (online users), `servers` (each server's lease end, by Redis's clock).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chatzz_core::ports::{Added, Leaving, PresenceError, PresenceRegistry, Sweep};
use chatzz_core::{SocketId, UserId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

#[cfg(test)]
mod tests;

/// How a [`RedisPresence`] is set up.
#[derive(Debug, Clone)]
pub struct RedisPresenceOptions {
    /// Prefix of every key (default `chatzz:presence`). Servers that share presence use
    /// the same one.
    pub prefix: String,
    /// How long a server stays counted after its last sweep (default 15 s). Its users
    /// go offline within about `lease` plus one sweep interval of it dying.
    pub lease: Duration,
}

impl Default for RedisPresenceOptions {
    fn default() -> Self {
        Self {
            prefix: "chatzz:presence".to_owned(),
            lease: Duration::from_secs(15),
        }
    }
}

/// Why [`RedisPresence::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("bad Redis URL: {0}")]
    Url(String),
    #[error("bad presence option: {0}")]
    Option(String),
    #[error("cannot reach Redis: {0}")]
    Unreachable(String),
}

/// Presence shared by every server connected to one Redis. Cheap to share behind an
/// `Arc`; one per server process.
pub struct RedisPresence {
    connection: ConnectionManager,
    scripts: Scripts,
    keys: Keys,
    server: String,
    lease: Duration,
    /// This server's live sockets, to put back if it was swept as dead.
    here: Mutex<HashMap<UserId, HashSet<SocketId>>>,
    registered: AtomicBool,
}

impl std::fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPresence")
            .field("server", &self.server)
            .field("prefix", &self.keys.base)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

struct Scripts {
    add: Script,
    remove: Script,
    remove_unless_last: Script,
    heartbeat: Script,
    reap: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            add: Script::new(include_str!("scripts/add.lua")),
            remove: Script::new(concat!(
                include_str!("scripts/forget_on_server.lua"),
                include_str!("scripts/remove.lua")
            )),
            remove_unless_last: Script::new(concat!(
                include_str!("scripts/forget_on_server.lua"),
                include_str!("scripts/remove_unless_last.lua")
            )),
            heartbeat: Script::new(include_str!("scripts/heartbeat.lua")),
            reap: Script::new(include_str!("scripts/reap.lua")),
        }
    }
}

struct Keys {
    /// `{prefix}:`, the hash tag included.
    base: String,
}

impl Keys {
    fn user(&self, user: &UserId) -> String {
        // The raw id, as the scripts build it (`Display` escapes).
        format!("{}user:{}", self.base, user.as_str())
    }
    fn server(&self, server: &str) -> String {
        format!("{}server:{server}", self.base)
    }
    fn online(&self) -> String {
        format!("{}online", self.base)
    }
    fn servers(&self) -> String {
        format!("{}servers", self.base)
    }
}

fn unavailable(err: redis::RedisError) -> PresenceError {
    PresenceError(err.to_string())
}

impl RedisPresence {
    /// Connects to Redis at `url` (`redis://HOST:PORT/DB`) and registers this server.
    /// The connection reconnects by itself; calls fail with [`PresenceError`] while
    /// Redis is unreachable.
    pub async fn connect(url: &str, options: RedisPresenceOptions) -> Result<Self, ConnectError> {
        if options.lease < Duration::from_millis(100) {
            return Err(ConnectError::Option("lease must be at least 100 ms".into()));
        }
        if options.prefix.is_empty() || options.prefix.contains(['{', '}']) {
            return Err(ConnectError::Option(
                "prefix must be non-empty and without braces".into(),
            ));
        }
        let client = redis::Client::open(url).map_err(|e| ConnectError::Url(e.to_string()))?;
        // Fail fast while Redis is away (callers decide what an unknown presence means);
        // reconnection goes on meanwhile.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let presence = Self {
            connection,
            scripts: Scripts::new(),
            keys: Keys {
                base: format!("{{{}}}:", options.prefix),
            },
            server: uuid::Uuid::new_v4().simple().to_string(),
            lease: options.lease,
            here: Mutex::default(),
            registered: AtomicBool::new(false),
        };
        presence
            .heartbeat()
            .await
            .map_err(|e| ConnectError::Unreachable(e.0))?;
        presence.registered.store(true, Ordering::SeqCst);
        Ok(presence)
    }

    /// This server's id in Redis.
    pub fn server_id(&self) -> &str {
        &self.server
    }

    /// How often to [`sweep`](PresenceRegistry::sweep): a third of the lease, so that
    /// a late sweep or two does not lose it.
    pub fn sweep_interval(&self) -> Duration {
        self.lease / 3
    }

    fn member(&self, socket: &SocketId) -> String {
        format!("{} {}", self.server, socket.as_str())
    }

    fn here(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, HashSet<SocketId>>> {
        // Every change is one insert or remove: a poisoned lock still guards valid data.
        self.here.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn forget_here(&self, user: &UserId, socket: &SocketId) {
        let mut here = self.here();
        if let Some(sockets) = here.get_mut(user) {
            sockets.remove(socket);
            if sockets.is_empty() {
                here.remove(user);
            }
        }
    }

    async fn heartbeat(&self) -> Result<(bool, Vec<String>), PresenceError> {
        let millis = u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX);
        let (added, expired): (i64, Vec<String>) = self
            .scripts
            .heartbeat
            .key(self.keys.servers())
            .arg(&self.server)
            .arg(millis)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok((added == 1, expired))
    }

    async fn add(
        &self,
        user: &UserId,
        socket: &SocketId,
        max: usize,
    ) -> Result<Option<Added>, PresenceError> {
        let result: i64 = self
            .scripts
            .add
            .key(self.keys.user(user))
            .key(self.keys.server(&self.server))
            .key(self.keys.online())
            .arg(self.member(socket))
            .arg(u64::try_from(max).unwrap_or(u64::MAX))
            .arg(user.as_str())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        let added = match result {
            -1 => return Ok(None),
            0 => Added {
                new_socket: false,
                came_online: false,
            },
            2 => Added {
                new_socket: true,
                came_online: false,
            },
            3 => Added {
                new_socket: true,
                came_online: true,
            },
            other => return Err(PresenceError(format!("add script returned {other}"))),
        };
        self.here()
            .entry(user.clone())
            .or_default()
            .insert(socket.clone());
        Ok(Some(added))
    }

    /// Puts this server's live sockets back after it was swept as dead; the users that
    /// came back online.
    async fn restore(&self) -> Result<Vec<UserId>, PresenceError> {
        let live: Vec<(UserId, SocketId)> = self
            .here()
            .iter()
            .flat_map(|(user, sockets)| sockets.iter().map(|s| (user.clone(), s.clone())))
            .collect();
        let mut back = Vec::new();
        for (user, socket) in live {
            if let Some(added) = self.add(&user, &socket, usize::MAX).await?
                && added.came_online
            {
                back.push(user);
            }
        }
        Ok(back)
    }
}

#[async_trait]
impl PresenceRegistry for RedisPresence {
    async fn add_within(
        &self,
        user: &UserId,
        socket: &SocketId,
        max: usize,
    ) -> Result<Option<Added>, PresenceError> {
        self.add(user, socket, max).await
    }

    async fn remove(&self, user: &UserId, socket: &SocketId) -> Result<bool, PresenceError> {
        let result: i64 = self
            .scripts
            .remove
            .key(self.keys.user(user))
            .key(self.keys.server(&self.server))
            .key(self.keys.online())
            .arg(self.member(socket))
            .arg(format!("{} ", self.server))
            .arg(user.as_str())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        self.forget_here(user, socket);
        Ok(result == 2)
    }

    async fn remove_unless_last(
        &self,
        user: &UserId,
        socket: &SocketId,
    ) -> Result<Leaving, PresenceError> {
        let result: i64 = self
            .scripts
            .remove_unless_last
            .key(self.keys.user(user))
            .key(self.keys.server(&self.server))
            .arg(self.member(socket))
            .arg(format!("{} ", self.server))
            .arg(user.as_str())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        match result {
            0 => {
                // Not in Redis (swept meanwhile, say): not live here either any more.
                self.forget_here(user, socket);
                Ok(Leaving::NotPresent)
            }
            1 => {
                self.forget_here(user, socket);
                Ok(Leaving::Removed)
            }
            2 => Ok(Leaving::Last),
            other => Err(PresenceError(format!(
                "remove_unless_last script returned {other}"
            ))),
        }
    }

    async fn online_among(&self, users: &[UserId]) -> Result<HashSet<UserId>, PresenceError> {
        if users.is_empty() {
            return Ok(HashSet::new());
        }
        let names: Vec<&str> = users.iter().map(UserId::as_str).collect();
        let flags: Vec<bool> = self
            .connection
            .clone()
            .smismember(self.keys.online(), &names)
            .await
            .map_err(unavailable)?;
        Ok(users
            .iter()
            .zip(flags)
            .filter(|(_, online)| *online)
            .map(|(user, _)| user.clone())
            .collect())
    }

    async fn online_users(&self) -> Result<usize, PresenceError> {
        self.connection
            .clone()
            .scard(self.keys.online())
            .await
            .map_err(unavailable)
    }

    async fn sweep(&self) -> Result<Sweep, PresenceError> {
        let (was_missing, expired) = self.heartbeat().await?;
        let mut sweep = Sweep::default();
        if was_missing && self.registered.load(Ordering::SeqCst) {
            tracing::warn!(
                server = %self.server,
                "this server had been swept as dead (Redis unreachable for longer than the lease); putting its sockets back"
            );
            sweep.came_online = self.restore().await?;
        }
        for server in expired.into_iter().filter(|s| *s != self.server) {
            let gone: Vec<String> = self
                .scripts
                .reap
                .key(self.keys.servers())
                .key(self.keys.online())
                .arg(&server)
                .arg(&self.keys.base)
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(unavailable)?;
            if !gone.is_empty() {
                tracing::info!(%server, users = gone.len(), "swept a server that stopped renewing its lease");
            }
            for user in gone {
                match UserId::from_stored(&user) {
                    Ok(user) => sweep.went_offline.push(user),
                    Err(err) => tracing::error!(%user, error = %err, "bad user id in Redis"),
                }
            }
        }
        Ok(sweep)
    }
}
