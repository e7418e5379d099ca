//! Offline notifications on PostgreSQL: claims by several processes at once never share
//! a notification, and the claim and the count walk the partial index of what is owed.

use chatzz_core::notification::{NotificationClaim, PendingNotification};
use chatzz_core::{ChatStore, NewMessage, StoreNames};
use chatzz_store_sql::testing::{at, linked_at, message, user};
use sqlx::AssertSqlSafe;

use super::{TestDb, fresh_store};
use crate::PostgresStore;

fn claim(owner: &str, limit: usize) -> NotificationClaim {
    NotificationClaim {
        owner: owner.to_owned(),
        now: at(10_000),
        lease_until: at(70_000),
        limit,
    }
}

/// Two processes (two stores, two pools), 16 claims at once of at most 7 each, over 60
/// recipients owed 2 notifications each: every recipient's oldest is claimed exactly
/// once, and no second one while the first is owed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_of_two_processes_never_share_a_notification() {
    let db = TestDb::create().await;
    let first = PostgresStore::connect(&db.url, StoreNames::default())
        .await
        .expect("connect");
    let second = PostgresStore::connect(&db.url, StoreNames::default())
        .await
        .expect("connect");
    let sender = user("alice");
    let mut heads = Vec::new();
    for i in 0..60 {
        let to = user(&format!("r{i:02}"));
        let room = first
            .link(&sender, &to, linked_at())
            .await
            .expect("link")
            .room;
        for n in 0..2 {
            let stored = first
                .insert_message(NewMessage {
                    notify: true,
                    ..message(&room, &sender, &to, &format!("m{n}"))
                })
                .await
                .expect("insert")
                .message;
            if n == 0 {
                heads.push(stored.id);
            }
        }
    }
    assert_eq!(first.pending_notifications().await.expect("pending"), 120);
    let mut claims = tokio::task::JoinSet::new();
    for k in 0..16 {
        let store = if k % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        claims.spawn(async move {
            store
                .claim_notifications(&claim(&format!("s{k}"), 7))
                .await
                .expect("claim_notifications")
        });
    }
    let got: Vec<PendingNotification> = claims.join_all().await.into_iter().flatten().collect();
    let mut ids: Vec<_> = got.iter().map(|p| p.message.id.clone()).collect();
    ids.sort();
    let claimed = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), claimed, "no notification claimed twice");
    // Some claims may have skipped rows another held: what is left goes to the next.
    let rest = first
        .claim_notifications(&claim("late", 1000))
        .await
        .expect("claim_notifications");
    ids.extend(rest.iter().map(|p| p.message.id.clone()));
    ids.sort();
    assert_eq!(
        ids, heads,
        "each recipient's oldest, once, and nothing else"
    );
}

/// With sequential scans priced out (as on a large table), a claim finds what is owed,
/// and each recipient's oldest, on the partial index, and the count walks it alone.
#[tokio::test]
async fn notifications_use_their_index() {
    let test = fresh_store().await;
    let mut conn = test.store.pool().acquire().await.expect("connection");
    sqlx::raw_sql("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .expect("set");
    let sql = test.store.statements();
    for (statement, args) in [
        (&sql.claim_notifications, "('s1', 10000, 70000, 10)"),
        (&sql.pending_notifications, ""),
    ] {
        sqlx::raw_sql(AssertSqlSafe(format!("PREPARE probe AS {statement}")))
            .execute(&mut *conn)
            .await
            .expect("prepare");
        let plan: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "EXPLAIN (COSTS OFF) EXECUTE probe{args}"
        )))
        .fetch_all(&mut *conn)
        .await
        .expect("explain");
        let plan = plan.join("\n");
        assert!(
            plan.contains("chatzz_messages_notify"),
            "{statement}:\n{plan}"
        );
        assert!(
            !plan.contains("Seq Scan on chatzz_messages"),
            "{statement}:\n{plan}"
        );
        sqlx::raw_sql("DEALLOCATE probe")
            .execute(&mut *conn)
            .await
            .expect("deallocate");
    }
}
