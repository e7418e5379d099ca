use async_trait::async_trait;
use serde_json::Value;

use crate::id::UserId;

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

/// Decides who a connection is, from the Socket.IO handshake's `auth` payload
/// (`io(url, { auth: { token } })`; `Value::Null` when the client sent none).
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The verified user id, or why the connection is refused.
    async fn authenticate(&self, auth: &Value) -> Result<UserId, AuthError>;
}
