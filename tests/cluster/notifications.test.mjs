// Offline notifications in a cluster: each notification is sent by one server at a time
// (a lease in the store), and when the server holding it dies, another takes it over
// once the lease (2 s here) has run out. Two servers on one PostgreSQL and one Redis.
// Run with CHATZZ_E2E_STORE=postgres and a server built with `redis` and `postgres`.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { Server, test, uid, makeContacts, goOffline, send, sleep } from '../e2e/harness.mjs';
import { STORE, freshDatabase } from '../e2e/stores.mjs';
import { Receiver, WEBHOOK_SECRET } from '../e2e/webhook-receiver.mjs';

assert.ok(['postgres', 'mongodb'].includes(STORE), `the cluster needs a shared store, not ${STORE}`);

const REDIS = process.env.CHATZZ_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const LEASE_S = 2;
const database = freshDatabase();
const receiver = new Receiver();
const servers = [];
before(() => receiver.start());
after(async () => {
  for (const s of servers) await s.stop();
  await receiver.stop();
  database.cleanup();
});

function node() {
  const server = new Server({
    database,
    args: [
      '--redis', REDIS, '--cluster-prefix', uid('ntcluster'), '--presence-lease', '2',
      '--webhook-url', receiver.url, '--webhook-secret', WEBHOOK_SECRET, '--notification-lease', String(LEASE_S),
    ],
  });
  servers.push(server);
  return server;
}

test('the server holding a notification dies: the other server delivers it after the lease', async () => {
  // Only n1 runs when the message is stored, so n1 claims it.
  const n1 = await node().start();
  const { b, sa, sb } = await makeContacts(n1, { prefix: 'ntc' });
  await goOffline(sb, sa);
  let accept = false;
  receiver.answer = () => (accept ? 200 : 'hang');
  const message = await send(sa, b, 'who delivers me?');
  await receiver.next((r) => r.body && r.body.data._id === message._id, 3000, 'n1 sending it');

  const n2 = await node().start();
  await sleep(500);
  assert.equal(receiver.about(message._id).length, 1, 'n2 does not take a notification n1 holds');
  await n1.kill9();
  accept = true;
  const killedAt = Date.now();
  const hit = await receiver.next((r) => r.body && r.body.data._id === message._id && r.reply === 200, LEASE_S * 1000 + 8000, 'n2 taking it over');
  assert.ok(hit.valid);
  assert.ok(hit.at - killedAt < LEASE_S * 1000 + 8000);
  await sleep(1500);
  assert.equal(receiver.about(message._id).filter((r) => r.reply === 200).length, 1, 'accepted once');
  assert.ok(n2.child.exitCode === null, 'n2 still runs');
});

test('with both servers up, each notification is accepted once (no server sends what another holds)', async () => {
  const n3 = await node().start();
  const live = servers.filter((s) => s.child && s.child.exitCode === null && s.child.signalCode === null);
  assert.ok(live.length >= 2);
  receiver.answer = () => 200;
  const pairs = [];
  for (let i = 0; i < 10; i += 1) {
    const host = live[i % live.length];
    const pair = await makeContacts(host, { prefix: `ntd${i}` });
    await goOffline(pair.sb, pair.sa);
    pairs.push(pair);
  }
  const sent = await Promise.all(pairs.map((p, i) => send(p.sa, p.b, `once ${i}`)));
  for (const m of sent) await receiver.next((r) => r.body && r.body.data._id === m._id, 5000, 'each notification');
  await sleep(1500);
  for (const m of sent) assert.equal(receiver.about(m._id).length, 1, `${m._id} offered once`);
  await n3.stop();
});
