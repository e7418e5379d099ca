//! Chat gated by JSON Web Tokens: `POST /login` checks a password and issues a token
//! (HS256, one hour); socket.io clients pass it as `io(url, { auth: { token } })` and can
//! then only act as the user it names.
//!
//!     cargo run -p chatzz --example jwt
//!     curl -s -XPOST localhost:3002/login -H 'content-type: application/json' \
//!          -d '{"username":"alice","password":"wonderland"}'
//!
//! `CHATZZ_EXAMPLE_LISTEN` changes the address; `CHATZZ_EXAMPLE_SECRET` the signing secret.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chatzz::{Chatzz, JwtAuthenticator};
use jsonwebtoken::{EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Value, json};

/// Users and passwords of this toy app. A real one checks a password hash.
const USERS: &[(&str, &str)] = &[
    ("alice", "wonderland"),
    ("bob", "builder"),
    ("carol", "marvel"),
];

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let listen = std::env::var("CHATZZ_EXAMPLE_LISTEN").unwrap_or_else(|_| "127.0.0.1:3002".into());
    let secret = std::env::var("CHATZZ_EXAMPLE_SECRET")
        .unwrap_or_else(|_| "change me: at least 32 random bytes!!".into())
        .into_bytes();

    let (chat_layer, _chat) = Chatzz::builder()
        .store_url("memory:")
        .jwt(JwtAuthenticator::hs256(&secret)?)
        .build()
        .await?;

    let app = Router::new()
        .route("/login", post(login))
        .with_state(EncodingKey::from_secret(&secret))
        .layer(chat_layer);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("jwt example listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn login(
    State(key): State<EncodingKey>,
    Json(body): Json<Login>,
) -> Result<Json<Value>, StatusCode> {
    if !USERS
        .iter()
        .any(|(user, password)| *user == body.username && *password == body.password)
    {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .as_secs();
    let claims = json!({ "sub": body.username, "iat": now, "exp": now + 3600 });
    let token = jsonwebtoken::encode(&Header::default(), &claims, &key)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(json!({ "token": token })))
}
