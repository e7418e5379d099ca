//! Authenticators for the handshake: JSON Web Tokens, or your own async closure.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use chatzz_core::{AuthError, Authenticator, Identity, Timestamp, UserId};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// A public key or secret that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("unusable JWT key: {0}")]
pub struct JwtKeyError(String);

/// Shortest HS256 secret accepted: anything shorter can be brute-forced offline from
/// one token (RFC 7518 asks for a key at least as long as the hash, 256 bits).
const MIN_HS256_SECRET_BYTES: usize = 32;

/// Checks `auth.token`, a JSON Web Token: the signature with one pinned algorithm
/// (HS256 with a shared secret, RS256 or ES256 with a public key), `exp` required and
/// in the future, `nbf` (when present) in the past, `sub` naming the user, and, when
/// pinned with [`issuer`](Self::issuer) and [`audience`](Self::audience), `iss` and
/// `aud`. Clocks may disagree by a minute.
///
/// ```
/// let auth = chatzz::JwtAuthenticator::hs256(b"at least 32 bytes of random secret")?
///     .issuer("https://login.example.com")
///     .audience("chat");
/// # drop(auth);
/// # Ok::<(), chatzz::JwtKeyError>(())
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
            .field("issuer", &self.validation.iss)
            .field("audience", &self.validation.aud)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    // Seconds since the epoch; some issuers write a fraction.
    exp: f64,
}

impl JwtAuthenticator {
    fn new(key: DecodingKey, algorithm: Algorithm) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // Clocks drift a little; a minute of grace is the usual default.
        validation.leeway = 60;
        Self { key, validation }
    }

    /// HS256 with a shared secret of at least 32 bytes (use random ones); a shorter
    /// secret is refused.
    pub fn hs256(secret: &[u8]) -> Result<Self, JwtKeyError> {
        if secret.len() < MIN_HS256_SECRET_BYTES {
            return Err(JwtKeyError(format!(
                "an HS256 secret must be at least {MIN_HS256_SECRET_BYTES} bytes, this one has {}",
                secret.len()
            )));
        }
        Ok(Self::new(
            DecodingKey::from_secret(secret),
            Algorithm::HS256,
        ))
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

    /// Requires the `iss` claim, equal to `issuer`: tokens another issuer signed with
    /// the same key are refused.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.validation.set_issuer(&[issuer.into()]);
        self.validation
            .required_spec_claims
            .insert("iss".to_owned());
        self
    }

    /// Requires the `aud` claim, equal to (or, for a list, holding) `audience`: tokens
    /// meant for another service are refused. Without it a token with an `aud` claim is
    /// refused, since this server cannot tell whether it is the audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.validation.set_audience(&[audience.into()]);
        self.validation
            .required_spec_claims
            .insert("aud".to_owned());
        self
    }

    /// The user a token names, if it checks out.
    pub fn verify(&self, token: &str) -> Result<UserId, AuthError> {
        self.verify_identity(token).map(|identity| identity.user)
    }

    /// The user a token names and when it expires (its `exp`; the minute of leeway
    /// applies to the handshake only, so a socket can end at `exp` exactly).
    pub fn verify_identity(&self, token: &str) -> Result<Identity, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| AuthError::Unauthorized(self.refusal(e.kind())))?;
        let user = UserId::parse(data.claims.sub).map_err(|_| {
            AuthError::Unauthorized("the token's sub is not a valid user id".to_owned())
        })?;
        // `as` saturates, and an exp beyond any date leaves nothing to schedule (`None`).
        let expires_at = Timestamp::from_millis((data.claims.exp * 1000.0) as i64);
        Ok(Identity { user, expires_at })
    }

    /// Why a token was refused, for `connect_error`; never echoes the token.
    fn refusal(&self, kind: &ErrorKind) -> String {
        match kind {
            ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
            ErrorKind::ImmatureSignature => {
                "the token is not valid yet (its nbf is in the future)".to_owned()
            }
            ErrorKind::InvalidSignature => "the token's signature is invalid".to_owned(),
            ErrorKind::InvalidAlgorithm => "the token is signed with another algorithm".to_owned(),
            ErrorKind::MissingRequiredClaim(claim) => format!("the token lacks the {claim} claim"),
            ErrorKind::InvalidClaimFormat(claim) => {
                format!("the token's {claim} claim is malformed")
            }
            ErrorKind::InvalidIssuer => "the token's iss is not the expected issuer".to_owned(),
            ErrorKind::InvalidAudience if self.validation.aud.is_none() => {
                "the token has an aud claim but this server expects no audience".to_owned()
            }
            ErrorKind::InvalidAudience => "the token's aud is not the expected audience".to_owned(),
            _ => "the token is malformed".to_owned(),
        }
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

    async fn identify(&self, auth: &Value) -> Result<Identity, AuthError> {
        self.verify_identity(token_of(auth)?)
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
        let auth = JwtAuthenticator::hs256(SECRET).unwrap();
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
        let auth = JwtAuthenticator::hs256(SECRET).unwrap();
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

    #[test]
    fn short_hs256_secrets_are_refused() {
        let err = JwtAuthenticator::hs256(b"31 bytes is one byte too short!").unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
        assert!(JwtAuthenticator::hs256(b"").is_err());
        assert!(JwtAuthenticator::hs256(SECRET).is_ok());
    }

    fn refusal(result: Result<UserId, AuthError>) -> String {
        match result {
            Err(AuthError::Unauthorized(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn nbf_in_the_future_is_refused() {
        let auth = JwtAuthenticator::hs256(SECRET).unwrap();
        let early = token(
            json!({"sub": "a", "exp": now() + 600, "nbf": now() + 300}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(
            refusal(auth.verify(&early)),
            "the token is not valid yet (its nbf is in the future)"
        );
        // Past nbf, and a future one within the minute of leeway, are fine.
        for nbf in [now() - 300, now() + 30] {
            let t = token(
                json!({"sub": "a", "exp": now() + 600, "nbf": nbf}),
                Algorithm::HS256,
                SECRET,
            );
            assert!(auth.verify(&t).is_ok(), "nbf {nbf}");
        }
    }

    #[test]
    fn issuer_and_audience_when_pinned_are_required_and_must_match() {
        let auth = JwtAuthenticator::hs256(SECRET)
            .unwrap()
            .issuer("https://login.example")
            .audience("chat");
        let with = |extra: Value| {
            let mut claims = json!({"sub": "a", "exp": now() + 600});
            if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
                claims.extend(extra.clone());
            }
            auth.verify(&token(claims, Algorithm::HS256, SECRET))
        };
        assert!(with(json!({"iss": "https://login.example", "aud": "chat"})).is_ok());
        assert!(with(json!({"iss": "https://login.example", "aud": ["other", "chat"]})).is_ok());
        assert_eq!(
            refusal(with(json!({"iss": "https://evil.example", "aud": "chat"}))),
            "the token's iss is not the expected issuer"
        );
        assert_eq!(
            refusal(with(json!({"iss": "https://login.example", "aud": "mail"}))),
            "the token's aud is not the expected audience"
        );
        assert_eq!(
            refusal(with(json!({"aud": "chat"}))),
            "the token lacks the iss claim"
        );
        assert_eq!(
            refusal(with(json!({"iss": "https://login.example"}))),
            "the token lacks the aud claim"
        );
    }

    #[test]
    fn without_pinning_iss_is_ignored_and_aud_refused() {
        let auth = JwtAuthenticator::hs256(SECRET).unwrap();
        let iss = token(
            json!({"sub": "a", "exp": now() + 600, "iss": "anyone"}),
            Algorithm::HS256,
            SECRET,
        );
        assert!(auth.verify(&iss).is_ok());
        let aud = token(
            json!({"sub": "a", "exp": now() + 600, "aud": "chat"}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(
            refusal(auth.verify(&aud)),
            "the token has an aud claim but this server expects no audience"
        );
    }

    #[tokio::test]
    async fn identify_reports_the_tokens_exp() {
        let auth = JwtAuthenticator::hs256(SECRET).unwrap();
        let exp = now() + 600;
        let t = token(
            json!({"sub": "alice", "exp": exp}),
            Algorithm::HS256,
            SECRET,
        );
        let identity = auth.identify(&json!({ "token": t })).await.unwrap();
        assert_eq!(identity.user.as_str(), "alice");
        let expected = i64::try_from(exp * 1000).unwrap();
        assert_eq!(identity.expires_at.map(Timestamp::millis), Some(expected));
        // Fractional seconds are accepted.
        let t = token(
            json!({"sub": "alice", "exp": exp as f64 + 0.5}),
            Algorithm::HS256,
            SECRET,
        );
        let identity = auth.identify(&json!({ "token": t })).await.unwrap();
        assert_eq!(
            identity.expires_at.map(Timestamp::millis),
            Some(expected + 500)
        );
        assert!(auth.identify(&json!({"token": "x"})).await.is_err());
    }

    #[tokio::test]
    async fn other_authenticators_identify_without_expiry() {
        let auth = ClosureAuthenticator::new(|_| async { Ok(UserId::parse("bob").unwrap()) });
        let identity = auth.identify(&Value::Null).await.unwrap();
        assert_eq!(identity.user.as_str(), "bob");
        assert_eq!(identity.expires_at, None);
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
