// Offline notifications (docs/notifications.md): a message stored while its recipient
// has no live socket is POSTed to the --webhook-url, signed, at least once; the same
// delivery id on every retry; one at a time per recipient in store order; sends never
// wait for the receiver. A real HTTP receiver (webhook-receiver.mjs) on every store.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import {
  Server,
  test,
  uid,
  makeContacts,
  goOffline,
  send,
  sleep,
  assertTimestamp,
} from './harness.mjs';
import { STORE } from './stores.mjs';
import { Receiver, WEBHOOK_SECRET } from './webhook-receiver.mjs';

const receiver = new Receiver();
let server;

before(async () => {
  await receiver.start();
  server = new Server({
    args: ['--webhook-url', receiver.url, '--webhook-secret', WEBHOOK_SECRET, '--notification-lease', '2'],
  });
  await server.start();
});
after(async () => {
  await server.stop();
  await receiver.stop();
});

/** a and b contacts, b offline again (a saw it go). */
async function offlinePair(prefix) {
  const pair = await makeContacts(server, { prefix });
  await goOffline(pair.sb, pair.sa);
  return pair;
}

/** Answers per recipient: `plans[b] = (attempt, body) => reply`; others get 200. */
const plans = new Map();
receiver.answer = (body, attempt) => {
  const plan = body && body.data && body.data.to && plans.get(body.data.to._id);
  return plan ? plan(attempt, body) : 200;
};

test(`an offline recipient's message is POSTed within a second, signed, as the docs shape it (${STORE})`, async () => {
  const { a, b, sa } = await offlinePair('nt1');
  const message = await send(sa, b, 'are you there?');
  const sentAt = Date.now();
  const hit = await receiver.next((r) => r.body && r.body.data && r.body.data._id === message._id, 1000, 'notification within 1 s');
  assert.ok(hit.at - sentAt < 1000, `notified ${hit.at - sentAt} ms after the ack`);
  assert.equal(hit.method, 'POST');
  assert.equal(hit.path, '/hooks/chatzz');
  assert.match(hit.headers['content-type'], /^application\/json/);
  assert.ok(hit.valid, `Chatzz-Signature must verify: ${hit.headers['chatzz-signature']}`);
  assert.match(hit.headers['chatzz-signature'], /^t=\d+,v1=[0-9a-f]{64}$/);
  assert.deepEqual(Object.keys(hit.body).sort(), ['createdAt', 'data', 'id', 'type']);
  assert.equal(hit.body.type, 'message.undelivered');
  assert.equal(typeof hit.body.id, 'string');
  assert.ok(hit.body.id.length > 0);
  assert.equal(hit.headers['chatzz-delivery'], hit.body.id);
  assertTimestamp(hit.body.createdAt, 'createdAt');
  assert.deepEqual(hit.body.data, message, 'data is the message as the sender got it');
  assert.equal(hit.body.data.from._id, a);
  assert.equal(hit.body.data.status, 'not_sent');
  // Accepted: never sent again.
  await sleep(1500);
  assert.equal(receiver.about(hit.body.id).length, 1);
});

test(`a recipient with a live socket is not notified (${STORE})`, async () => {
  const { b, sa } = await makeContacts(server, { prefix: 'nt2' });
  const message = await send(sa, b, 'you are here');
  await sleep(1200);
  assert.deepEqual(
    receiver.requests.filter((r) => r.body && r.body.data && r.body.data._id === message._id),
    [],
    'no notification for a message delivered live',
  );
});

test(`500 twice then 200: retried with backoff and the same delivery id, accepted once (${STORE})`, async () => {
  const { b, sa } = await offlinePair('nt3');
  plans.set(b, (attempt) => (attempt <= 2 ? 500 : 200));
  const message = await send(sa, b, 'third time lucky');
  const third = await receiver.next((r) => r.body && r.body.data._id === message._id && r.attempt === 3, 10_000, 'third attempt');
  const tries = receiver.about(third.body.id);
  assert.deepEqual(tries.map((r) => r.reply), [500, 500, 200]);
  for (const r of tries) assert.ok(r.valid, 'every attempt is signed');
  assert.ok(tries[1].at - tries[0].at >= 400, `backoff before the 2nd attempt: ${tries[1].at - tries[0].at} ms`);
  assert.ok(tries[2].at - tries[1].at >= tries[1].at - tries[0].at - 600, 'backoff grows (with jitter)');
  await sleep(1500);
  assert.equal(receiver.about(third.body.id).length, 3, 'nothing after the 200');
});

test(`notifications go one at a time per recipient, in store order, each after the previous is accepted (${STORE})`, async () => {
  const { b, sa } = await offlinePair('nt4');
  // The first is refused once: the others must wait behind it.
  plans.set(b, (attempt, body) => (attempt === 1 && body.data.message === 'order 0' ? 503 : 200));
  const sent = [];
  for (let i = 0; i < 5; i += 1) sent.push(await send(sa, b, `order ${i}`));
  await receiver.next((r) => r.body && r.body.data._id === sent[4]._id, 10_000, 'the fifth notification');
  const seen = receiver.requests.filter((r) => r.body && r.body.data.to._id === b);
  const firstSeen = [];
  for (const r of seen) if (!firstSeen.includes(r.body.data._id)) firstSeen.push(r.body.data._id);
  assert.deepEqual(firstSeen, sent.map((m) => m._id), 'first attempts in store order');
  for (let i = 1; i < sent.length; i += 1) {
    const previousAccepted = seen.find((r) => r.body.data._id === sent[i - 1]._id && r.reply === 200);
    const thisFirst = seen.find((r) => r.body.data._id === sent[i]._id);
    assert.ok(thisFirst.at >= previousAccepted.answeredAt, `message ${i} was offered before ${i - 1} was accepted`);
  }
});

test(`a receiver that refuses connections, then comes back, gets the notification (${STORE})`, async () => {
  const { b, sa } = await offlinePair('nt5');
  await receiver.stop();
  const message = await send(sa, b, 'while you were down');
  await sleep(1500);
  await receiver.start();
  const hit = await receiver.next((r) => r.body && r.body.data._id === message._id, 15_000, 'notification after the receiver came back');
  assert.ok(hit.valid);
  assert.equal(receiver.about(hit.body.id).length, 1, 'refused attempts never reached it');
});

test(`sends go as fast while the receiver hangs as while it answers (${STORE})`, async () => {
  const fast = await offlinePair('nt6f');
  const slow = await offlinePair('nt6s');
  plans.set(slow.b, () => 'hang');
  const burst = async (pair) => {
    const started = Date.now();
    // In waves the connection's queue allows.
    for (let wave = 0; wave < 5; wave += 1) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => send(pair.sa, pair.b, `burst ${wave}.${i}`)));
    }
    return Date.now() - started;
  };
  const answering = await burst(fast);
  const hanging = await burst(slow);
  assert.ok(hanging < answering * 3 + 500, `100 sends took ${hanging} ms with the receiver hanging, ${answering} ms with it answering`);
  plans.set(slow.b, () => 200);
});
