// Offline notifications survive kill -9: what is owed is stored with the message, so a
// server killed while the receiver had not accepted yet delivers it after a restart
// (once the dead server's lease, 2 s here, has run out), with the same delivery id.
// Run with CHATZZ_E2E_STORE=sqlite or postgres.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { Server, test, makeContacts, goOffline, send } from '../e2e/harness.mjs';
import { STORE, freshDatabase } from '../e2e/stores.mjs';
import { Receiver, WEBHOOK_SECRET } from '../e2e/webhook-receiver.mjs';

assert.ok(['sqlite', 'postgres'].includes(STORE), `durability runs on sqlite or postgres, not ${STORE}`);

const LEASE_S = 2;
const database = freshDatabase();
const receiver = new Receiver();
before(() => receiver.start());
after(async () => {
  await receiver.stop();
  database.cleanup();
});

const args = () => ['--webhook-url', receiver.url, '--webhook-secret', WEBHOOK_SECRET, '--notification-lease', String(LEASE_S)];

test(`kill -9 before the receiver accepted: the restarted server delivers it, same delivery id (${STORE})`, async () => {
  const first = await new Server({ database, args: args() }).start();
  const { b, sa, sb } = await makeContacts(first, { prefix: 'ntk9' });
  await goOffline(sb, sa);
  let accept = false;
  receiver.answer = () => (accept ? 200 : 'hang');
  const owed = [];
  for (let i = 0; i < 3; i += 1) owed.push(await send(sa, b, `before the crash ${i}`));
  const inFlight = await receiver.next((r) => r.body && r.body.data._id === owed[0]._id, 3000, 'the first attempt');
  await first.kill9();
  accept = true;

  const second = await new Server({ database, args: args() }).start();
  try {
    for (const m of owed) {
      const hit = await receiver.next((r) => r.body && r.body.data._id === m._id && r.reply === 200, LEASE_S * 1000 + 8000, `${m.message} after the restart`);
      assert.ok(hit.valid, 'signed');
      assert.equal(hit.body.data.to._id, b);
    }
    const retried = receiver.about(inFlight.body.id);
    assert.ok(retried.length >= 2, 'offered again after the crash');
    assert.equal(retried.at(-1).body.id, inFlight.body.id, 'the same delivery id');
    const order = receiver.requests.filter((r) => r.reply === 200).map((r) => r.body.data._id);
    assert.deepEqual(order, owed.map((m) => m._id), 'accepted in store order');
  } finally {
    await second.stop();
  }
});
