use super::{ChatService, Session};
use crate::error::ChatError;
use crate::event::{Audience, Delivery, Outcome, ServerEvent, StatusChange};
use crate::presence::Leaving;
use crate::user::PresenceStatus;

impl ChatService {
    /// A socket went away. When it was the user's last, the user goes offline now: its
    /// `lastOnline` is stored and its online contacts hear so once. The last socket
    /// leaves presence only once that is done, so a failure changes nothing and the
    /// transport retries the call until it succeeds.
    pub async fn disconnect(&self, session: &Session) -> Result<Outcome<()>, ChatError> {
        let nothing = || Outcome {
            reply: (),
            deliveries: Vec::new(),
        };
        let user = &session.user;
        match self.presence.remove_unless_last(user, &session.socket) {
            Leaving::NotPresent | Leaving::Removed => return Ok(nothing()),
            Leaving::Last => {}
        }
        let now = self.clock.now();
        self.store.set_last_online(user, now).await?;
        let contacts = self.store.contacts(user).await?;
        let mut views = self.views();
        let details = views.details(user).await?;
        if !self.presence.remove(user, &session.socket) {
            // Another socket of the user arrived meanwhile: still online.
            return Ok(nothing());
        }
        let change = StatusChange {
            user: details,
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

    /// Gives up on announcing a departure (the store stayed down): the socket leaves
    /// presence without its contacts hearing of it.
    pub fn abandon(&self, session: &Session) {
        if self.presence.remove(&session.user, &session.socket) {
            tracing::warn!(user = %session.user, "user went offline unannounced: the store stayed unavailable");
        }
    }
}
