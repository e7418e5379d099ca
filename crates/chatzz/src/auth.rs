//! Authenticators for the handshake: JSON Web Tokens, or your own async closure.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use chatzz_core::{AuthError, Authenticator, UserId};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// A public key or secret that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("unusable JWT key: {0}")]
pub struct JwtKeyError(String);

/// Checks `auth.token`, a JSON Web Token: the signature with one pinned algorithm
/// (HS256 with a shared secret, RS256 or ES256 with a public key), `exp` required and
/// in the future, and `sub` naming the user.
///
/// ```
/// let auth = chatzz::JwtAuthenticator::hs256(b"a long random secret");
/// # drop(auth);
/// ```
#[derive(Clone)]
pub struct JwtAuthenticator {
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for JwtAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthenticator")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl JwtAuthenticator {
    fn new(key: DecodingKey, algorithm: Algorithm) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_exp = true;
        // Clocks drift a little; a minute of grace is the usual default.
        validation.leeway = 60;
        Self { key, validation }
    }

    /// HS256 with a shared secret (use 32 random bytes or more).
    pub fn hs256(secret: &[u8]) -> Self {
        Self::new(DecodingKey::from_secret(secret), Algorithm::HS256)
    }

    /// RS256 with an RSA public key in PEM.
    pub fn rs256_pem(public_key: &[u8]) -> Result<Self, JwtKeyError> {
        let key = DecodingKey::from_rsa_pem(public_key).map_err(|e| JwtKeyError(e.to_string()))?;
        Ok(Self::new(key, Algorithm::RS256))
    }

    /// ES256 with a P-256 public key in PEM.
    pub fn es256_pem(public_key: &[u8]) -> Result<Self, JwtKeyError> {
        let key = DecodingKey::from_ec_pem(public_key).map_err(|e| JwtKeyError(e.to_string()))?;
        Ok(Self::new(key, Algorithm::ES256))
    }

    /// RS256 or ES256, whichever kind of public key the PEM holds.
    pub fn from_public_key_pem(public_key: &[u8]) -> Result<Self, JwtKeyError> {
        Self::rs256_pem(public_key)
            .or_else(|_| Self::es256_pem(public_key))
            .map_err(|_| JwtKeyError("expected an RSA or a P-256 EC public key in PEM".into()))
    }

    /// The user a token names, if it checks out.
    pub fn verify(&self, token: &str) -> Result<UserId, AuthError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|e| {
                AuthError::Unauthorized(
                    match e.kind() {
                        ErrorKind::ExpiredSignature => "the token has expired",
                        ErrorKind::InvalidSignature => "the token's signature is invalid",
                        ErrorKind::InvalidAlgorithm => "the token is signed with another algorithm",
                        ErrorKind::MissingRequiredClaim(_) => "the token lacks exp or sub",
                        ErrorKind::ImmatureSignature => "the token is not valid yet",
                        _ => "the token is malformed",
                    }
                    .to_owned(),
                )
            })?;
        UserId::parse(data.claims.sub).map_err(|_| {
            AuthError::Unauthorized("the token's sub is not a valid user id".to_owned())
        })
    }
}

/// The token of a handshake `auth` payload: `{ "token": "<JWT>" }`.
fn token_of(auth: &Value) -> Result<&str, AuthError> {
    auth.get("token").and_then(Value::as_str).ok_or_else(|| {
        AuthError::Unauthorized("pass { auth: { token } } when connecting".to_owned())
    })
}

#[async_trait]
impl Authenticator for JwtAuthenticator {
    async fn authenticate(&self, auth: &Value) -> Result<UserId, AuthError> {
        self.verify(token_of(auth)?)
    }
}

type AuthFn = dyn Fn(Value) -> std::pin::Pin<Box<dyn Future<Output = Result<UserId, AuthError>> + Send>>
    + Send
    + Sync;

/// Your own async check of the handshake `auth` payload.
///
/// ```
/// use chatzz::{AuthError, ClosureAuthenticator, UserId};
/// let auth = ClosureAuthenticator::new(|auth: serde_json::Value| async move {
///     match auth.get("apiKey").and_then(|k| k.as_str()) {
///         Some("let-me-in") => UserId::parse("alice").map_err(|e| AuthError::Unauthorized(e.message)),
///         _ => Err(AuthError::Unauthorized("bad api key".into())),
///     }
/// });
/// # drop(auth);
/// ```
#[derive(Clone)]
pub struct ClosureAuthenticator(Arc<AuthFn>);

impl fmt::Debug for ClosureAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClosureAuthenticator")
    }
}

impl ClosureAuthenticator {
    /// Wraps `check`, called with the `auth` payload (`null` when none was sent).
    pub fn new<F, Fut>(check: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<UserId, AuthError>> + Send + 'static,
    {
        Self(Arc::new(move |auth| Box::pin(check(auth))))
    }
}

#[async_trait]
impl Authenticator for ClosureAuthenticator {
    async fn authenticate(&self, auth: &Value) -> Result<UserId, AuthError> {
        (self.0)(auth.clone()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &[u8] = b"test secret that is long enough!";

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    }

    fn token(claims: Value, alg: Algorithm, secret: &[u8]) -> String {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_valid_token_names_its_user() {
        let auth = JwtAuthenticator::hs256(SECRET);
        let t = token(
            json!({"sub": "alice", "exp": now() + 600}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(
            auth.authenticate(&json!({ "token": t }))
                .await
                .unwrap()
                .as_str(),
            "alice"
        );
    }

    #[tokio::test]
    async fn bad_tokens_are_refused() {
        let auth = JwtAuthenticator::hs256(SECRET);
        let cases = [
            json!(null),
            json!({}),
            json!({"token": 42}),
            json!({"token": "not.a.jwt"}),
            json!({"token": token(json!({"sub": "a", "exp": now() - 3600}), Algorithm::HS256, SECRET)}),
            json!({"token": token(json!({"sub": "a", "exp": now() + 600}), Algorithm::HS256, b"another secret, also long enough")}),
            // Same secret, another algorithm: pinned to HS256.
            json!({"token": token(json!({"sub": "a", "exp": now() + 600}), Algorithm::HS512, SECRET)}),
            json!({"token": token(json!({"sub": "a"}), Algorithm::HS256, SECRET)}),
            json!({"token": token(json!({"exp": now() + 600}), Algorithm::HS256, SECRET)}),
            json!({"token": token(json!({"sub": "", "exp": now() + 600}), Algorithm::HS256, SECRET)}),
            json!({"token": token(json!({"sub": {"$ne": null}, "exp": now() + 600}), Algorithm::HS256, SECRET)}),
        ];
        for auth_payload in cases {
            let result = auth.authenticate(&auth_payload).await;
            assert!(
                matches!(result, Err(AuthError::Unauthorized(_))),
                "{auth_payload}: {result:?}"
            );
        }
    }

    #[tokio::test]
    async fn rs256_and_es256_with_public_keys() {
        let claims = json!({"sub": "carol", "exp": now() + 600});
        let rsa = JwtAuthenticator::from_public_key_pem(include_bytes!("test-keys/rsa-public.pem"))
            .unwrap();
        let ec = JwtAuthenticator::from_public_key_pem(include_bytes!("test-keys/ec-public.pem"))
            .unwrap();
        let rsa_key =
            EncodingKey::from_rsa_pem(include_bytes!("test-keys/rsa-private.pem")).unwrap();
        let ec_key = EncodingKey::from_ec_pem(include_bytes!("test-keys/ec-private.pem")).unwrap();
        let rs256 = encode(&Header::new(Algorithm::RS256), &claims, &rsa_key).unwrap();
        let es256 = encode(&Header::new(Algorithm::ES256), &claims, &ec_key).unwrap();
        assert_eq!(rsa.verify(&rs256).unwrap().as_str(), "carol");
        assert_eq!(ec.verify(&es256).unwrap().as_str(), "carol");
        // Each is pinned to its own algorithm and key.
        assert!(rsa.verify(&es256).is_err());
        assert!(ec.verify(&rs256).is_err());
        let rs512 = encode(&Header::new(Algorithm::RS512), &claims, &rsa_key).unwrap();
        assert!(rsa.verify(&rs512).is_err());
        // An HS256 token "signed" with the public key text must not pass (key confusion).
        let confused = token(
            claims,
            Algorithm::HS256,
            include_bytes!("test-keys/rsa-public.pem"),
        );
        assert!(rsa.verify(&confused).is_err());
    }

    #[test]
    fn public_keys_must_parse() {
        assert!(JwtAuthenticator::from_public_key_pem(b"not a key").is_err());
    }

    #[tokio::test]
    async fn closures_decide() {
        let auth = ClosureAuthenticator::new(|auth: Value| async move {
            match auth.get("k").and_then(Value::as_str) {
                Some("ok") => Ok(UserId::parse("bob").unwrap()),
                _ => Err(AuthError::Unauthorized("no".into())),
            }
        });
        assert_eq!(
            auth.authenticate(&json!({"k": "ok"}))
                .await
                .unwrap()
                .as_str(),
            "bob"
        );
        assert!(auth.authenticate(&json!({"k": "no"})).await.is_err());
    }
}
