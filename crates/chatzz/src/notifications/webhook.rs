//! Signed webhooks: each notification is a `POST` of its JSON to the host application's
//! URL, signed as Stripe signs its webhooks (`Chatzz-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256 of "<t>.<body>">`) so that the receiver can check it came from us and
//! reject replays by `t`. A 2xx accepts it; anything else, a timeout or a refused
//! connection has it retried. `docs/notifications.md` shows how to verify it.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chatzz_core::notification::Notification;
use chatzz_core::{Notifier, NotifyError};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

use super::WEBHOOK_TIMEOUT as TIMEOUT;

/// Why a webhook cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not an absolute `http` or `https` URL.
    #[error("the webhook URL must be an absolute http:// or https:// URL: {0}")]
    Url(String),
    /// The secret is too short to sign with.
    #[error("the webhook secret must be at least {MIN_SECRET_BYTES} bytes (it has {0})")]
    ShortSecret(usize),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Posts notifications to one URL, signed with one secret.
#[derive(Clone)]
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: std::sync::Arc<[u8]>,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry credentials; the secret never shows.
        f.debug_struct("WebhookNotifier")
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// Posts to `url`, signing with `secret` (at least [`MIN_SECRET_BYTES`] bytes).
    pub fn new(url: &str, secret: &[u8]) -> Result<Self, WebhookError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| WebhookError::Url(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(WebhookError::Url(format!("scheme {}", parsed.scheme())));
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(WebhookError::ShortSecret(secret.len()));
        }
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            // A redirect would send the signed body somewhere not configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("chatzz/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookError::Client(e.to_string()))?;
        Ok(Self {
            client,
            url: parsed,
            secret: secret.into(),
        })
    }
}

/// The `Chatzz-Signature` header for `body` sent at `t` (unix seconds).
pub fn sign(secret: &[u8], t: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(notification).map_err(|e| NotifyError(e.to_string()))?;
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Chatzz-Signature", sign(&self.secret, t, &body))
            .header("Chatzz-Delivery", &notification.id)
            .body(body)
            .send()
            .await
            .map_err(|e| NotifyError(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(NotifyError(format!("the receiver answered {status}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body_in_hex() {
        // Expected values from an independent HMAC: `printf '<t>.<body>' | openssl dgst
        // -sha256 -hmac <secret>`.
        assert_eq!(
            sign(b"Jefe", 1, b"what do ya want for nothing?"),
            "t=1,v1=a9049465ce89cfb8e9aac62333abda66f80e3403f51f57f6bae3c3a4485eca38"
        );
        assert_eq!(
            sign(
                b"whsec_0123456789abcdef0123456789abcdef",
                1_700_000_000,
                br#"{"id":"1"}"#
            ),
            "t=1700000000,v1=3221ee98f3812ee4ad158e16d40f34abd6fb86435fb10c3ac25f7867f6031b5b"
        );
    }

    #[test]
    fn a_short_secret_or_a_url_that_is_not_http_is_refused() {
        let secret = [7u8; MIN_SECRET_BYTES];
        assert!(WebhookNotifier::new("http://127.0.0.1:9/hook", &secret).is_ok());
        assert!(matches!(
            WebhookNotifier::new("http://127.0.0.1:9/hook", &secret[..31]),
            Err(WebhookError::ShortSecret(31))
        ));
        assert!(matches!(
            WebhookNotifier::new("ftp://x/y", &secret),
            Err(WebhookError::Url(_))
        ));
        assert!(matches!(
            WebhookNotifier::new("not a url", &secret),
            Err(WebhookError::Url(_))
        ));
    }
}
