use async_trait::async_trait;
use serde_json::Value;

use crate::id::UserId;
use crate::time::Timestamp;

/// Why a connection's credentials were refused. The message goes to the client in
/// `connect_error`, so it says what was wrong without echoing secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential, or one that does not check out (bad signature, expired, ...).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The authenticator itself could not decide (its backend is down); retry later.
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
}

/// Who a connection is, and until when its credential holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The verified user.
    pub user: UserId,
    /// When the credential expires (a token's `exp`); `None` when it does not.
    pub expires_at: Option<Timestamp>,
}

/// Decides who a connection is, from the Socket.IO handshake's `auth` payload
/// (`io(url, { auth: { token } })`; `Value::Null` when the client sent none).
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The verified user id, or why the connection is refused.
    async fn authenticate(&self, auth: &Value) -> Result<UserId, AuthError>;

    /// The verified user and when the credential expires. By default the user of
    /// [`authenticate`](Self::authenticate), with no expiry.
    async fn identify(&self, auth: &Value) -> Result<Identity, AuthError> {
        Ok(Identity {
            user: self.authenticate(auth).await?,
            expires_at: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    #[async_trait]
    impl Authenticator for Fixed {
        async fn authenticate(&self, auth: &Value) -> Result<UserId, AuthError> {
            match auth.as_str() {
                Some(id) => UserId::parse(id).map_err(|e| AuthError::Unauthorized(e.message)),
                None => Err(AuthError::Unauthorized("no".into())),
            }
        }
    }

    #[test]
    fn identify_defaults_to_authenticate_without_expiry() {
        let identity = futures_executor::block_on(Fixed.identify(&Value::from("alice")));
        assert_eq!(
            identity,
            Ok(Identity {
                user: UserId::parse("alice").unwrap(),
                expires_at: None,
            })
        );
        let refused = futures_executor::block_on(Fixed.identify(&Value::Null));
        assert_eq!(refused, Err(AuthError::Unauthorized("no".into())));
    }
}
