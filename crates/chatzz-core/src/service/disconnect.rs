use super::{ChatService, Session};
use crate::error::ChatError;
use crate::event::{Audience, Delivery, Outcome, ServerEvent, StatusChange};
use crate::user::PresenceStatus;

impl ChatService {
    /// A socket went away. When it was the user's last, the user goes offline now and
    /// its online contacts hear so once. A failure to store `lastOnline` is logged and
    /// does not stop the announcement: the socket is gone either way.
    pub async fn disconnect(&self, session: &Session) -> Result<Outcome<()>, ChatError> {
        let user = &session.user;
        if !self.presence.remove(user, &session.socket) {
            return Ok(Outcome {
                reply: (),
                deliveries: Vec::new(),
            });
        }
        let now = self.clock.now();
        if let Err(err) = self.store.set_last_online(user, now).await {
            tracing::warn!(%user, error = %err, "could not store lastOnline");
        }
        let contacts = self.store.contacts(user).await?;
        let mut views = self.views();
        let change = StatusChange {
            user: views.details(user).await?,
            status: PresenceStatus::Offline,
            last_online: Some(now),
        };
        let deliveries = contacts
            .into_iter()
            .filter(|c| self.presence.is_online(&c.user))
            .map(|c| {
                Delivery::new(
                    Audience::User(c.user),
                    ServerEvent::ChatUserStatusChanged(change.clone()),
                )
            })
            .collect();
        Ok(Outcome {
            reply: (),
            deliveries,
        })
    }
}
