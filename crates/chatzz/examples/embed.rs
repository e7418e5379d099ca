//! An existing axum application (its own users table, its own routes) gets chat in a
//! few lines: chatzz stores its tables beside the app's in the same SQLite file, and
//! shows each user with the `name` and `avatar` from the app's `users` table.
//!
//!     cargo run -p chatzz --example embed
//!
//! Then connect socket.io clients to http://127.0.0.1:3001 as `alice`, `bob` or `carol`
//! (`CHATZZ_EXAMPLE_LISTEN` and `CHATZZ_EXAMPLE_DB` change the address and the file).

use std::str::FromStr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chatzz::{Chatzz, ChatzzHandle, SqliteUserDirectory, UserId};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// The application's own state: its database, and now chat.
#[derive(Clone)]
struct AppState {
    db: SqlitePool,
    chat: ChatzzHandle,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let db_url =
        std::env::var("CHATZZ_EXAMPLE_DB").unwrap_or_else(|_| "sqlite://embed-example.db".into());
    let listen = std::env::var("CHATZZ_EXAMPLE_LISTEN").unwrap_or_else(|_| "127.0.0.1:3001".into());

    // The app as it was: a users table of its own.
    let db =
        SqlitePool::connect_with(SqliteConnectOptions::from_str(&db_url)?.create_if_missing(true))
            .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, name TEXT NOT NULL, avatar TEXT)",
    )
    .execute(&db)
    .await?;
    for (id, name) in [
        ("alice", "Alice Liddell"),
        ("bob", "Bob Dylan"),
        ("carol", "Carol Danvers"),
    ] {
        sqlx::query("INSERT OR IGNORE INTO users (id, name, avatar) VALUES (?1, ?2, ?3)")
            .bind(id)
            .bind(name)
            .bind(format!("/avatars/{id}.png"))
            .execute(&db)
            .await?;
    }

    // Chat in a few lines: chatzz's tables in the same file, details from `users`.
    let (chat_layer, chat) = Chatzz::builder()
        .store_url(&db_url)
        .user_directory(SqliteUserDirectory::new(
            db.clone(),
            "users",
            "id",
            &["name", "avatar"],
        )?)
        // This example has no login; see the `jwt` example for authenticated clients.
        .trust_client_user_ids()
        .build()
        .await?;

    let app = Router::new()
        .route("/", get(|| async { "my app, now with chat at /socket.io" }))
        .route("/api/users", get(list_users))
        .route("/api/users/{id}/contacts", get(contacts))
        .route("/api/announce", post(announce))
        .with_state(AppState { db, chat })
        .layer(chat_layer);

    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "embed example listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}

/// One of the app's own routes, untouched by chat.
async fn list_users(State(state): State<AppState>) -> Result<Json<Value>, StatusCode> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, name FROM users ORDER BY id")
        .fetch_all(&state.db)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(json!(
        rows.into_iter()
            .map(|(id, name)| json!({ "id": id, "name": name }))
            .collect::<Vec<_>>()
    )))
}

/// The app asks chat who a user's contacts are, with presence.
async fn contacts(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, (StatusCode, String)> {
    let user = UserId::parse(id).map_err(|e| (StatusCode::BAD_REQUEST, e.message))?;
    let contacts = state
        .chat
        .contacts(&user)
        .await
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.message))?;
    let online = state
        .chat
        .is_online(&user)
        .await
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.message))?;
    Ok(Json(json!({ "online": online, "contacts": contacts })))
}

#[derive(Deserialize)]
struct Announce {
    from: String,
    to: String,
    text: String,
}

/// The app sends a chat message itself (a notification from a job, say), with the same
/// rules and events as a client's `send-message`.
async fn announce(
    State(state): State<AppState>,
    Json(body): Json<Announce>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let bad = |e: chatzz::ChatError| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "code": e.code, "message": e.message })),
        )
    };
    let from = UserId::parse(body.from).map_err(bad)?;
    let to = UserId::parse(body.to).map_err(bad)?;
    // Make sure they are contacts first (idempotent), then send.
    state.chat.add_contact(&from, &to).await.map_err(bad)?;
    let message = state
        .chat
        .send_message(&from, &to, body.text, None)
        .await
        .map_err(bad)?;
    Ok(Json(json!(message)))
}
