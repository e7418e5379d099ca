//! Only colleagues may talk: the host application's contact policy. Every user belongs
//! to one organisation, and `add-chat-user` between users of two organisations fails
//! with `forbidden`, before anything is linked.
//!
//!     cargo run -p chatzz --example organisation --features memory
//!
//! Then connect socket.io clients to http://127.0.0.1:3002 as `alice` or `bob` (Acme)
//! or `carol` (Globex) (`CHATZZ_EXAMPLE_LISTEN` changes the address).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use chatzz::{Chatzz, ClosureDirectory, ContactPolicy, MemoryStore, PolicyError, UserId};
use serde_json::{Map, json};

/// The application's own knowledge of its users: who works where.
struct Organisations(HashMap<&'static str, &'static str>);

impl Organisations {
    fn of(&self, user: &UserId) -> Option<&'static str> {
        self.0.get(user.as_str()).copied()
    }
}

/// The policy: both users in the same organisation. A real application would ask its
/// own database here (and answer `Err` when it cannot).
struct SameOrganisation(Arc<Organisations>);

#[async_trait]
impl ContactPolicy for SameOrganisation {
    async fn may_link(&self, requester: &UserId, other: &UserId) -> Result<bool, PolicyError> {
        let (mine, theirs) = (self.0.of(requester), self.0.of(other));
        Ok(mine.is_some() && mine == theirs)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let listen = std::env::var("CHATZZ_EXAMPLE_LISTEN").unwrap_or_else(|_| "127.0.0.1:3002".into());
    let organisations = Arc::new(Organisations(HashMap::from([
        ("alice", "Acme"),
        ("bob", "Acme"),
        ("carol", "Globex"),
    ])));

    let known = Arc::clone(&organisations);
    let (chat_layer, _chat) = Chatzz::builder()
        .store(MemoryStore::new())
        // Users exist if the application knows them; clients see their organisation.
        .user_directory(ClosureDirectory::new(move |id: UserId| {
            let organisation = known.of(&id);
            async move {
                Ok(organisation.map(|org| {
                    let mut fields = Map::new();
                    fields.insert("organisation".into(), json!(org));
                    fields
                }))
            }
        }))
        .contact_policy(SameOrganisation(organisations))
        // This example has no login; see the `jwt` example for authenticated clients.
        .trust_client_user_ids()
        .build()
        .await?;

    let app = Router::new().layer(chat_layer);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "organisation example listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
