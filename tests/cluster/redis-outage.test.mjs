// Redis goes away for one server of a cluster, longer than the presence lease, and
// comes back. Through the outage the server keeps storing and acking messages; its
// users are swept offline by the other server and come back online once it reaches
// Redis again; emits between the servers work again without a restart, and nothing
// acked is lost.
//
// That server reaches Redis through a TCP proxy inside this test, which can cut every
// connection (and refuse new ones) and let them through again.
//
//   cd tests && CHATZZ_E2E_STORE=postgres node --test --test-concurrency=1 cluster/

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before } from 'node:test';
import {
  Server,
  test,
  uid,
  ackOk,
  emitAck,
  send,
  nextChatzz,
  nextChatzzEntry,
  assertStatusChange,
  sleep,
} from '../e2e/harness.mjs';
import { STORE, freshDatabase } from '../e2e/stores.mjs';

assert.ok(['postgres', 'mongodb'].includes(STORE), `the cluster needs a shared store, not ${STORE}`);

const REDIS = new URL(process.env.CHATZZ_TEST_REDIS_URL || 'redis://127.0.0.1:6379');
const LEASE_S = 2;
const SWEPT_WITHIN_MS = LEASE_S * 1000 * 2 + 3000;

/** A TCP proxy to Redis that can cut every connection and refuse new ones. */
class Proxy {
  constructor() {
    this.open = true;
    this.pairs = new Set();
    this.server = net.createServer((client) => {
      if (!this.open) {
        client.destroy();
        return;
      }
      const upstream = net.connect(Number(REDIS.port || 6379), REDIS.hostname);
      const pair = { client, upstream };
      this.pairs.add(pair);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async listen() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `redis://127.0.0.1:${this.server.address().port}${REDIS.pathname}`;
  }

  cut() {
    this.open = false;
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  restore() {
    this.open = true;
  }

  close() {
    this.cut();
    this.server.close();
  }
}

const database = freshDatabase();
const proxy = new Proxy();
const prefix = uid('outage');
let cutOff;
let direct;

before(async () => {
  const viaProxy = await proxy.listen();
  const common = ['--cluster-prefix', prefix, '--presence-lease', String(LEASE_S)];
  cutOff = await new Server({ database, args: ['--redis', viaProxy, ...common] }).start();
  direct = await new Server({ database, args: ['--redis', REDIS.toString(), ...common] }).start();
});
after(async () => {
  await cutOff?.stop();
  await direct?.stop();
  proxy.close();
  database.cleanup();
});

test('a server cut off from Redis keeps acking, its users are swept and come back, emits recover', async () => {
  const a = uid('a');
  const b = uid('b');
  const sa = await cutOff.connectUser(a);
  const sb = await direct.connectUser(b);
  await ackOk(sa, 'add-chat-user', { userToAdd: b });
  await nextChatzz(sb, 'chat-user-added', (d) => d._id === a);
  const before = await send(sa, b, 'before the cut');
  await nextChatzz(sb, 'new-message', (m) => m._id === before._id);

  proxy.cut();
  const cutAt = Date.now();
  // The other server sweeps the silent one: b sees a go offline, once.
  const offline = nextChatzzEntry(sb, 'chat-user-status-changed', (d) => d.user._id === a, SWEPT_WITHIN_MS);
  // Sends still succeed: stored and acked, whatever presence and emits can do.
  const during = [];
  for (let i = 0; i < 3; i += 1) {
    const started = Date.now();
    const [err, message] = await emitAck(sa, 'send-message', { userId: b, message: `during ${i}`, clientMessageId: uid('c') }, 20000);
    assert.equal(err, null, `send during the outage: ${JSON.stringify(err)}`);
    during.push(message);
    console.log(`send during the outage acked in ${Date.now() - started} ms`);
  }
  const { env, at } = await offline;
  assertStatusChange(env.data, { id: a, status: 'offline' });
  assert.ok(at - cutAt <= SWEPT_WITHIN_MS, `offline ${at - cutAt} ms after the cut`);

  proxy.restore();
  // The server puts its live sockets back: b sees a online again.
  const back = await nextChatzz(sb, 'chat-user-status-changed', (d) => d.user._id === a, 15000);
  assertStatusChange(back, { id: a, status: 'online' });

  // Emits between the servers work again, both ways, without a restart.
  let after;
  for (let attempt = 0; ; attempt += 1) {
    after = await send(sa, b, `after the cut ${attempt}`);
    try {
      await nextChatzz(sb, 'new-message', (m) => m._id === after._id, 1000);
      break;
    } catch (e) {
      if (attempt >= 10) throw new Error(`emits from the cut-off server never reached the other again: ${e.message}`);
    }
  }
  const reply = await send(sb, a, 'and back');
  await nextChatzz(sa, 'new-message', (m) => m._id === reply._id);

  // Nothing acked was lost.
  const history = await ackOk(sb, 'get-old-messages', { userId: a, after: before._id, limit: 100 });
  const ids = new Set(history.map((m) => m._id));
  for (const m of during) assert.ok(ids.has(m._id), `message ${m.message} acked during the outage is stored`);
  await sleep(10);
});
