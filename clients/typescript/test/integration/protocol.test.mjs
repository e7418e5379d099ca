// Every client event of the package against a real chatzz, on the memory and SQLite stores.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, ChatzzError } from '../../dist/esm/index.js';
import { ChatzzServer, FAST_RECONNECT, STORES, database, uid, until } from './server.mjs';

for (const store of STORES) {
  describe(`the client's events on the ${store} store`, () => {
    const db = database(store);
    const server = new ChatzzServer(db);
    const clients = [];
    const open = async (userId) => {
      const c = connect(server.url, { userId, ackTimeoutMs: 5000, socket: FAST_RECONNECT });
      clients.push(c);
      await c.whenReady();
      return c;
    };
    const nextEvent = (client, type, pred = () => true) =>
      new Promise((resolve) => {
        const off = client.on(type, (d) => {
          if (pred(d)) {
            off();
            resolve(d);
          }
        });
      });

    before(() => server.start());
    after(async () => {
      for (const c of clients) c.close();
      await server.stop();
      db.cleanup();
    });

    test('add, send, read up to, edit, delete, typing, block: results and events', async () => {
      const a = uid('alice');
      const b = uid('bob');
      const alice = await open(a);
      const bob = await open(b);
      assert.deepEqual(alice.session.user, { _id: a });

      const added = nextEvent(bob, 'chat-user-added');
      const contact = await alice.addChatUser(b);
      assert.equal(contact._id, b);
      assert.equal(contact.status, 'online');
      assert.equal((await added)._id, a);
      assert.equal(bob.state.contact(a).chatRoomId, contact.chatRoomId);

      const arrived = nextEvent(bob, 'new-message');
      const m1 = await alice.sendMessage(b, 'one');
      assert.equal((await arrived)._id, m1._id);
      const m2 = await alice.sendMessage(b, 'two');
      await until(() => bob.state.messagesWith(a).length === 2, 'bob has both');
      assert.equal(bob.state.contact(a).unreadCount, 2);

      const readEvent = nextEvent(alice, 'messages-read');
      const read = await bob.markRead(m2._id);
      assert.equal(read.status, 'read');
      const r = await readEvent;
      assert.deepEqual({ ...r, readAt: undefined }, { chatRoomId: contact.chatRoomId, readerId: b, upTo: m2._id, readAt: undefined, count: 2 });
      assert.deepEqual(alice.state.messagesWith(b).map((m) => m.status), ['read', 'read']);
      assert.equal(bob.state.contact(a).unreadCount, 0);

      const updated = nextEvent(bob, 'message-updated');
      const edited = await alice.editMessage(m1._id, 'one, edited');
      assert.ok(edited.editedAt);
      assert.equal((await updated).message, 'one, edited');
      const tomb = await alice.deleteMessage(m2._id);
      assert.equal(tomb.message, '');
      assert.ok(tomb.deletedAt);
      await until(() => bob.state.messagesWith(a)[1].deletedAt, 'bob sees the tombstone');

      const typing = nextEvent(bob, 'typing');
      await alice.typing(b, true);
      assert.deepEqual(await typing, { userId: a, chatRoomId: contact.chatRoomId, typing: true, expiresInMs: 6000 });
      assert.equal(bob.state.isTyping(a), true);

      assert.deepEqual(await bob.blockUser(a), { userId: a, blocked: true });
      await assert.rejects(alice.sendMessage(b, 'blocked?'), (e) => e instanceof ChatzzError && e.code === 'forbidden');
      assert.equal(bob.state.contact(a).blocked, true);
      assert.deepEqual(await bob.unblockUser(a), { userId: a, blocked: false });
      await alice.sendMessage(b, 'three');

      const history = await bob.getOldMessages({ userId: a });
      assert.deepEqual(history.map((m) => m.message), ['one, edited', '', 'three']);
      const older = await bob.getOldMessages({ userId: a, before: history[2]._id, limit: 1 });
      assert.deepEqual(older.map((m) => m._id), [history[1]._id]);
      const contacts = await alice.getContacts();
      assert.equal(contacts[0]._id, b);
      assert.equal(contacts[0].lastMessage.message, 'three');
    });

    test('a send retried with its clientMessageId is stored once (the outbox relies on it)', async () => {
      const a = uid('alice');
      const b = uid('bob');
      const alice = await open(a);
      await open(b);
      await alice.addChatUser(b);
      const first = await alice.sendMessage(b, 'once', 'retry-key-1');
      const again = await alice.sendMessage(b, 'once', 'retry-key-1');
      assert.equal(again._id, first._id);
      const history = await alice.getOldMessages({ userId: b });
      assert.deepEqual(history.map((m) => m._id), [first._id]);
      assert.deepEqual(alice.state.messagesWith(b).map((m) => m._id), [first._id]);
    });

    test('errors come as typed ChatzzErrors with the protocol codes', async () => {
      const alice = await open(uid('alice'));
      const stranger = uid('stranger');
      await assert.rejects(alice.addChatUser(stranger), { name: 'ChatzzError', code: 'unknown-user' });
      await assert.rejects(alice.sendMessage(alice.session.user._id, 'me'), { code: 'invalid-argument' });
      await open(stranger);
      await assert.rejects(alice.sendMessage(stranger, 'hi'), { code: 'not-a-contact', event: 'send-message' });
      await assert.rejects(alice.markRead('no-such-id'), { code: 'not-found' });
    });

    test('presence reaches the state: online, offline', async () => {
      const a = uid('alice');
      const b = uid('bob');
      const alice = await open(a);
      const bob = await open(b);
      await alice.addChatUser(b);
      assert.equal(alice.state.contact(b).status, 'online');
      const offline = nextEvent(alice, 'chat-user-status-changed', (d) => d.status === 'offline');
      bob.close();
      assert.equal((await offline).user._id, b);
      assert.equal(alice.state.contact(b).status, 'offline');
      assert.ok(alice.state.contact(b).lastOnline);
    });
  });
}
