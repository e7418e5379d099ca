// The outbox across a dropped connection, in the middle of a flush: every message is
// stored once and resolves once; the recipient, dropped too, catches up without holes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../dist/esm/index.js';
import { checkExactlyOnce, track, wholeHistory } from './history.mjs';
import { ChatzzServer, FAST_RECONNECT, STORES, database, uid, until } from './server.mjs';

const COUNT = 300;

for (const store of STORES) {
  describe(`outbox and catch-up across reconnects on the ${store} store`, () => {
    const db = database(store);
    const server = new ChatzzServer(db);
    const clients = [];
    const open = async (userId) => {
      const c = connect(server.url, { userId, ackTimeoutMs: 3000, socket: FAST_RECONNECT, retry: { minDelayMs: 20, maxDelayMs: 200 } });
      clients.push(c);
      await c.whenReady();
      return c;
    };

    before(() => server.start());
    after(async () => {
      for (const c of clients) c.close();
      await server.stop();
      db.cleanup();
    });

    test('a reconnect in the middle of an outbox flush: none lost, none duplicated', async () => {
      const a = uid('alice');
      const b = uid('bob');
      const alice = await open(a);
      const bob = await open(b);
      await alice.addChatUser(b);
      const sessions = { alice: 0, bob: 0 };
      alice.on('session', () => (sessions.alice += 1));
      bob.on('session', () => (sessions.bob += 1));

      const texts = Array.from({ length: COUNT }, (_, i) => `message ${i}`);
      const results = texts.map((t) => track(alice.send(b, t)));
      assert.equal(alice.state.pendingFor(b).length, COUNT, 'all pending at once');

      // Drop both connections while the flush is under way (socket.io-client reconnects).
      await until(() => results.filter((r) => r.settled).length >= 40, 'the flush to be under way');
      alice.socket.io.engine.close();
      await until(() => results.filter((r) => r.settled).length >= 120, 'more to be stored');
      bob.socket.io.engine.close();
      await until(() => results.filter((r) => r.settled).length >= 200, 'more to be stored');
      alice.socket.io.engine.close();

      await until(() => results.every((r) => r.settled), 'every message to settle', 30000);
      assert.ok(sessions.alice >= 2 && sessions.bob >= 1, `sessions came back: ${JSON.stringify(sessions)}`);
      checkExactlyOnce(assert, results, await wholeHistory(alice, b), texts);
      assert.ok(results.some((r) => r.pending.attempts > 1), 'some message was sent again after the cut');
      assert.deepEqual(alice.state.pendingFor(b), []);

      // Bob's state: every message once, in order, after his catch-up.
      await until(() => bob.state.messagesWith(a).length === COUNT && bob.state.roomWith(a).live, 'bob to catch up', 15000);
      assert.deepEqual(bob.state.messagesWith(a).map((m) => m.message), texts);
      assert.deepEqual(alice.state.messagesWith(b).map((m) => m.message), texts);
    });
  });
}
