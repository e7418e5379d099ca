// A client that floods one connection with events, without waiting for replies, gets
// `rate-limited` for those beyond the configured queue (here 4) at once, and everything
// else stays exact: each event answered once, only acked messages stored, later events
// served normally.

import assert from 'node:assert/strict';
import { useServer, test, makeContacts, emitAck, assertError, ackOk, send } from './harness.mjs';

const server = useServer({ args: ['--max-queued-events', '4'] });

test('events beyond the per-connection queue fail at once with rate-limited; nothing else changes', async () => {
  const { a, b, sa } = await makeContacts(server, { prefix: 'flood' });
  const results = await Promise.all(
    Array.from({ length: 300 }, (_, i) => emitAck(sa, 'send-message', { userId: b, message: `flood ${i}` }, 20000)),
  );
  const ok = results.filter(([err]) => err === null).map(([, m]) => m);
  const refused = results.filter(([err]) => err !== null);
  for (const [err, result] of refused) {
    assertError(err, 'rate-limited');
    assert.equal(result, null);
  }
  assert.ok(refused.length > 0, 'a burst of 300 on a queue of 4 must overflow it');
  assert.ok(ok.length > 0, 'the events that fit are served');
  assert.equal(ok.length + refused.length, 300, 'every event answered once');

  const history = await ackOk(sa, 'get-old-messages', { userId: b, limit: 500 });
  assert.deepEqual(
    history.map((m) => m._id).sort(),
    ok.map((m) => m._id).sort(),
    'exactly the acked messages are stored',
  );
  const after = await send(sa, b, 'after the flood');
  assert.equal(after.message, 'after the flood');
  assert.ok(a);
});
