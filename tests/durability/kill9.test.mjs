// An acked message is committed: it survives `kill -9` of the server. Run against a
// durable store: CHATZZ_E2E_STORE=sqlite or postgres.

import assert from 'node:assert/strict';
import { after } from 'node:test';
import { Server, test, uid, makeContacts, emitAck, ackOk } from '../e2e/harness.mjs';
import { STORE, freshDatabase } from '../e2e/stores.mjs';

assert.ok(['sqlite', 'postgres'].includes(STORE), `durability runs on sqlite or postgres, not ${STORE}`);

const database = freshDatabase();
after(() => database.cleanup());

test(`acked messages survive kill -9 during a send burst (${STORE})`, async () => {
  // The whole burst may wait on the one connection: many sends in flight at the kill.
  const first = await new Server({ database, args: ['--max-queued-events', '1000'] }).start();
  const { a, b, sa } = await makeContacts(first, { prefix: 'k9' });
  // Fire a burst without waiting, note every message the server acked, and kill the
  // server while later sends are still in flight.
  const acked = new Map();
  const burst = [];
  for (let i = 0; i < 400; i += 1) {
    const clientMessageId = uid('cmid');
    burst.push(
      emitAck(sa, 'send-message', { userId: b, message: `burst ${i}`, clientMessageId }, 30000)
        .then(([err, message]) => {
          if (err === null) acked.set(message._id, message.message);
        })
        .catch(() => {}),
    );
    if (i === 250) {
      // Kill once a good part of the burst is acked (or after 20 s on a slow machine),
      // while later sends are still in flight.
      const deadline = Date.now() + 20000;
      while (acked.size < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await first.kill9();
      break;
    }
  }
  // Sends in flight at the kill are never answered: no need to wait for their timeouts.
  await Promise.race([Promise.allSettled(burst), new Promise((r) => setTimeout(r, 1000))]);
  assert.ok(acked.size >= 10, `only ${acked.size} sends were acked before the kill`);

  const second = await new Server({ database }).start();
  try {
    const sb = await second.connectUser(b);
    // Page back through the whole history, newest page first.
    const pages = [];
    let before;
    for (;;) {
      const page = await ackOk(sb, 'get-old-messages', { userId: a, limit: 500, ...(before ? { before } : {}) });
      pages.unshift(page);
      if (page.length < 500) break;
      before = page[0]._id;
    }
    const history = pages.flat();
    const stored = new Map(history.map((m) => [m._id, m.message]));
    const lost = [...acked.keys()].filter((id) => stored.get(id) !== acked.get(id));
    assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acked messages are gone after kill -9`);
    // Every stored message is there exactly once, in id order, and each text once.
    const ids = history.map((m) => m._id);
    assert.equal(new Set(ids).size, ids.length, 'no message appears twice');
    assert.deepEqual(ids, [...ids].sort(), 'history is in id order');
    const texts = history.map((m) => m.message);
    assert.equal(new Set(texts).size, texts.length, 'no send was stored twice');
  } finally {
    await second.stop();
  }
});
