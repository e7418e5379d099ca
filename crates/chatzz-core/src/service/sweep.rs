use super::ChatService;
use crate::error::ChatError;
use crate::event::{Delivery, Outcome};
use crate::id::UserId;
use crate::user::PresenceStatus;

impl ChatService {
    /// Presence housekeeping, which the transport runs on a timer when presence is
    /// shared between servers: announces the users whose server stopped as offline
    /// (storing their `lastOnline`), and the users of this server that the registry had
    /// lost as online again. A departure that cannot be recorded now is retried on the
    /// next sweep.
    pub async fn sweep_presence(&self) -> Result<Outcome<()>, ChatError> {
        let sweep = self.presence.sweep().await?;
        let mut departed = std::mem::take(&mut *self.unannounced_lock());
        for user in sweep.went_offline {
            if !departed.contains(&user) {
                departed.push(user);
            }
        }
        let mut deliveries = Vec::new();
        let mut retry = Vec::new();
        for user in departed {
            match self.announce_departure(&user).await {
                Ok(announced) => deliveries.extend(announced),
                Err(err) => {
                    tracing::warn!(%user, error = %err, "departure not recorded yet; will retry");
                    retry.push(user);
                }
            }
        }
        for user in sweep.came_online {
            match self.announce_return(&user).await {
                Ok(announced) => deliveries.extend(announced),
                Err(err) => tracing::warn!(%user, error = %err, "return not announced"),
            }
        }
        self.unannounced_lock().extend(retry);
        Ok(Outcome::new((), deliveries))
    }

    fn unannounced_lock(&self) -> std::sync::MutexGuard<'_, Vec<UserId>> {
        // Each change is one take or extend: a poisoned lock still holds a valid list.
        self.unannounced
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    async fn announce_departure(&self, user: &UserId) -> Result<Vec<Delivery>, ChatError> {
        if self.presence.is_online(user).await? {
            // Back on another socket meanwhile, and announced as such there.
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        self.store.set_last_online(user, now).await?;
        let contacts = self.contact_ids(user).await?;
        let details = self.views().details(user).await?;
        Ok(self
            .announce(&contacts, user, details, PresenceStatus::Offline, Some(now))
            .await)
    }

    async fn announce_return(&self, user: &UserId) -> Result<Vec<Delivery>, ChatError> {
        let last_online = self
            .store
            .find_user(user)
            .await?
            .and_then(|record| record.last_online);
        let contacts = self.contact_ids(user).await?;
        let details = self.views().details(user).await?;
        Ok(self
            .announce(
                &contacts,
                user,
                details,
                PresenceStatus::Online,
                last_online,
            )
            .await)
    }

    /// The contacts to tell of `user`'s presence: all but those it blocks.
    async fn contact_ids(&self, user: &UserId) -> Result<Vec<UserId>, ChatError> {
        Ok(self
            .store
            .linked_users(user)
            .await?
            .into_iter()
            .filter(|c| !c.blocked)
            .map(|c| c.user)
            .collect())
    }
}
