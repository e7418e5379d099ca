//! The blocking cases of the store conformance suite (protocol 1.1): a block is one
//! stored fact per (blocker, blocked), each way independent, needing no room, and shown
//! in both users' contact lists.

use super::*;
use crate::user::Blocks;

fn between(a: bool, b: bool) -> Blocks {
    Blocks {
        a_blocks_b: a,
        b_blocks_a: b,
    }
}

async fn blocks(store: &impl ChatStore, a: &UserId, b: &UserId) -> Blocks {
    expect(store.blocks_between(a, b).await, "blocks_between")
}

pub async fn a_block_is_added_once_and_unblock_removes_it(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    assert_eq!(blocks(store, &alice, &bob).await, between(false, false));
    assert!(expect(store.block(&alice, &bob, at(1_000)).await, "block"));
    assert!(
        !expect(store.block(&alice, &bob, at(2_000)).await, "block"),
        "blocking again changes nothing"
    );
    assert_eq!(blocks(store, &alice, &bob).await, between(true, false));
    assert_eq!(
        blocks(store, &bob, &alice).await,
        between(false, true),
        "asked the other way round"
    );
    assert!(expect(store.unblock(&alice, &bob).await, "unblock"));
    assert!(
        !expect(store.unblock(&alice, &bob).await, "unblock"),
        "unblocking again changes nothing"
    );
    assert_eq!(blocks(store, &alice, &bob).await, between(false, false));
    assert!(
        !expect(store.unblock(&bob, &alice).await, "unblock"),
        "nothing to remove"
    );
}

pub async fn blocks_each_way_are_independent(store: &impl ChatStore) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    expect(store.block(&alice, &bob, at(1_000)).await, "block");
    expect(store.block(&bob, &alice, at(1_001)).await, "block");
    expect(store.block(&carol, &alice, at(1_002)).await, "block");
    assert_eq!(blocks(store, &alice, &bob).await, between(true, true));
    expect(store.unblock(&bob, &alice).await, "unblock");
    assert_eq!(blocks(store, &alice, &bob).await, between(true, false));
    assert_eq!(blocks(store, &alice, &carol).await, between(false, true));
    assert_eq!(
        blocks(store, &bob, &carol).await,
        between(false, false),
        "other pairs are untouched"
    );
}

pub async fn blocks_need_no_room_and_show_in_both_contact_lists(store: &impl ChatStore) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    // Before any room: a block of a user one never talked to.
    assert!(expect(store.block(&alice, &bob, at(1_000)).await, "block"));
    linked(store, &alice, &bob).await;
    linked(store, &alice, &carol).await;
    let flags = |records: Vec<crate::user::ContactRecord>| -> Vec<(UserId, bool, bool)> {
        records
            .into_iter()
            .map(|c| (c.user, c.blocked, c.blocked_by))
            .collect()
    };
    assert_eq!(
        flags(expect(store.contacts(&alice).await, "contacts")),
        vec![(bob.clone(), true, false), (carol.clone(), false, false)]
    );
    assert_eq!(
        flags(expect(store.contacts(&bob).await, "contacts")),
        vec![(alice.clone(), false, true)]
    );
    expect(store.unblock(&alice, &bob).await, "unblock");
    expect(store.block(&carol, &alice, at(2_000)).await, "block");
    assert_eq!(
        flags(expect(store.contacts(&alice).await, "contacts")),
        vec![(bob.clone(), false, false), (carol.clone(), false, true)]
    );
}

pub async fn concurrent_blocks_add_one(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let added = join_all((0..10).map(|i| store.block(&alice, &bob, at(1_000 + i)))).await;
    let added = added
        .into_iter()
        .filter(|r| *r.as_ref().unwrap_or_else(|e| panic!("block failed: {e}")))
        .count();
    assert_eq!(added, 1, "exactly one call adds the block");
    let removed = join_all((0..10).map(|_| store.unblock(&alice, &bob))).await;
    let removed = removed
        .into_iter()
        .filter(|r| *r.as_ref().unwrap_or_else(|e| panic!("unblock failed: {e}")))
        .count();
    assert_eq!(removed, 1, "exactly one call removes it");
}

pub async fn linked_users_are_the_contacts_with_their_blocks(store: &impl ChatStore) {
    let (alice, bob, carol, dave) = (user("alice"), user("bob"), user("carol"), user("dave"));
    assert!(expect(store.linked_users(&alice).await, "linked_users").is_empty());
    linked(store, &carol, &alice).await;
    linked(store, &alice, &bob).await;
    linked(store, &bob, &dave).await;
    expect(store.block(&alice, &bob, at(1_000)).await, "block");
    expect(store.block(&carol, &alice, at(1_001)).await, "block");
    let listed: Vec<(UserId, bool)> = expect(store.linked_users(&alice).await, "linked_users")
        .into_iter()
        .map(|l| (l.user, l.blocked))
        .collect();
    assert_eq!(
        listed,
        vec![(carol.clone(), false), (bob.clone(), true)],
        "room creation order; only alice's own blocks count"
    );
    let contacts: Vec<(UserId, bool)> = expect(store.contacts(&alice).await, "contacts")
        .into_iter()
        .map(|c| (c.user, c.blocked))
        .collect();
    assert_eq!(listed, contacts, "the same users as the contact list");
}
