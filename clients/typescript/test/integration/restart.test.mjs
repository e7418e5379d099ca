// A server restart (SIGKILL, then the same SQLite file at the same address) in the
// middle of an outbox flush: the client reconnects by itself, registers again, retries
// with the same clientMessageIds and catches up. Every message resolves once, none is
// lost, none is stored twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect } from '../../dist/esm/index.js';
import { checkExactlyOnce, track, wholeHistory } from './history.mjs';
import { ChatzzServer, FAST_RECONNECT, database, sleep, uid, until } from './server.mjs';

const COUNT = 300;
const db = database('sqlite');
const server = new ChatzzServer(db);
const clients = [];

before(() => server.start());
after(async () => {
  for (const c of clients) c.close();
  await server.stop();
  db.cleanup();
});

const open = async (userId) => {
  const c = connect(server.url, { userId, ackTimeoutMs: 2000, socket: FAST_RECONNECT, retry: { minDelayMs: 20, maxDelayMs: 200 } });
  clients.push(c);
  await c.whenReady();
  return c;
};

for (const signal of ['SIGKILL', 'SIGTERM']) {
  test(`a server restart (${signal}) in the middle of an outbox flush (SQLite kept): every message once`, async () => {
    const a = uid('alice');
    const b = uid('bob');
    const alice = await open(a);
    const bob = await open(b);
    await alice.addChatUser(b);

    const texts = Array.from({ length: COUNT }, (_, i) => `${signal} ${i}`);
    const results = texts.map((t) => track(alice.send(b, t)));
    await until(() => results.filter((r) => r.settled).length >= 50, 'the flush to be under way');
    await server.stop(signal);
    const settledWhileDown = results.filter((r) => r.settled).length;
    await sleep(300);
    assert.ok(settledWhileDown < COUNT, 'the restart happened in the middle of the flush');
    assert.equal(alice.ready, false);
    await server.start();

    await until(() => results.every((r) => r.settled), 'every message to settle', 30000);
    checkExactlyOnce(assert, results, await wholeHistory(alice, b), texts);
    assert.ok(results.some((r) => r.pending.attempts > 1), 'some message was sent again after the cut');
    await until(() => bob.state.messagesWith(a).length === COUNT && bob.state.roomWith(a).live, 'bob to catch up', 15000);
    assert.deepEqual(bob.state.messagesWith(a).map((m) => m.message), texts);
  });
}
