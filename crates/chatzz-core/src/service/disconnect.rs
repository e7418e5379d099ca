use super::{ChatService, Session};
use crate::error::ChatError;
use crate::event::{Audience, Delivery, Outcome, ServerEvent, StatusChange};
use crate::id::UserId;
use crate::ports::Leaving;
use crate::time::Timestamp;
use crate::user::PresenceStatus;

impl ChatService {
    /// A socket went away. When it was the user's last, the user goes offline now: its
    /// `lastOnline` is stored and its online contacts hear so once. The last socket
    /// leaves presence only once that is done, so a failure changes nothing and the
    /// transport retries the call until it succeeds.
    pub async fn disconnect(&self, session: &Session) -> Result<Outcome<()>, ChatError> {
        let user = &session.user;
        match self
            .presence
            .remove_unless_last(user, &session.socket)
            .await?
        {
            Leaving::NotPresent | Leaving::Removed => return Ok(Outcome::nothing()),
            Leaving::Last => {}
        }
        let now = self.clock.now();
        self.store.set_last_online(user, now).await?;
        let contacts = self.store.linked_users(user).await?;
        let mut views = self.views();
        let details = views.details(user).await?;
        if !self.presence.remove(user, &session.socket).await? {
            // Another socket of the user arrived meanwhile: still online.
            return Ok(Outcome::nothing());
        }
        // Those this user blocks hear nothing of it.
        let contacts: Vec<UserId> = contacts
            .into_iter()
            .filter(|c| !c.blocked)
            .map(|c| c.user)
            .collect();
        // Whoever it was typing to sees it stop before it goes offline.
        let mut deliveries = self.left_typing(user);
        deliveries.extend(
            self.announce(&contacts, user, details, PresenceStatus::Offline, Some(now))
                .await,
        );
        Ok(Outcome::new((), deliveries))
    }

    /// Gives up on announcing a departure (the store stayed down): the socket leaves
    /// presence without its contacts hearing of it.
    pub async fn abandon(&self, session: &Session) {
        match self.presence.remove(&session.user, &session.socket).await {
            Ok(true) => {
                tracing::warn!(user = %session.user, "user went offline unannounced: the store stayed unavailable");
            }
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(user = %session.user, error = %err, "could not take an abandoned socket out of presence");
            }
        }
    }

    /// A presence change of `user` for those of `contacts` who are online. If presence
    /// cannot tell who is, nobody hears: contacts learn the truth on their next connect.
    pub(super) async fn announce(
        &self,
        contacts: &[UserId],
        user: &UserId,
        details: crate::user::UserDetails,
        status: PresenceStatus,
        last_online: Option<Timestamp>,
    ) -> Vec<Delivery> {
        let online = match self.presence.online_among(contacts).await {
            Ok(online) => online,
            Err(err) => {
                tracing::warn!(%user, error = %err, "presence unknown; change not announced");
                return Vec::new();
            }
        };
        let change = StatusChange {
            user: details,
            status,
            last_online,
        };
        contacts
            .iter()
            .filter(|c| online.contains(*c))
            .map(|c| {
                Delivery::new(
                    Audience::User(c.clone()),
                    ServerEvent::ChatUserStatusChanged(change.clone()),
                )
            })
            .collect()
    }
}
