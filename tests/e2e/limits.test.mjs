// Configured limits: send rate per user, live sockets per user, packet size.

import assert from 'node:assert/strict';
import net from 'node:net';
import { before, after } from 'node:test';
import { Server, test, uid, makeContacts, emitAck, ackOk, ackError, openSocket, sleep } from './harness.mjs';

const server = new Server({
  args: [
    '--send-rate', '5', '--send-burst', '3', '--max-sockets-per-user', '2',
    '--max-packet-bytes', '65536', '--header-read-timeout', '1',
  ],
});
before(() => server.start());
after(() => server.stop());

test('sends beyond the burst are rate-limited and store nothing; the rate refills', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'rl' });
  const results = [];
  for (let i = 0; i < 6; i += 1) {
    results.push(await emitAck(sa, 'send-message', { userId: b, message: `m${i}` }));
  }
  const codes = results.map(([err]) => (err ? err.code : 'ok'));
  assert.deepEqual(codes.slice(0, 3), ['ok', 'ok', 'ok']);
  assert.ok(codes.slice(3).every((c) => c === 'rate-limited'), JSON.stringify(codes));
  const history = await ackOk(sb, 'get-old-messages', { userId: a });
  assert.deepEqual(history.map((m) => m.message), ['m0', 'm1', 'm2'], 'nothing stored for refused sends');
  // Each user has their own bucket.
  await ackOk(sb, 'send-message', { userId: a, message: 'bob is fine' });
  await sleep(450);
  await ackOk(sa, 'send-message', { userId: b, message: 'after a pause' });
});

test('a user holds at most the configured number of live sockets', async () => {
  const id = uid('tabs');
  const one = await server.connectUser(id);
  const two = await server.connectUser(id);
  const three = await server.socket();
  await ackError(three, 'connect-user', { userId: id }, 'rate-limited');
  one.close();
  await sleep(200);
  await ackOk(three, 'connect-user', { userId: id });
  two.close();
  three.close();
});

for (const transport of ['websocket', 'polling']) test(`a packet bigger than the limit closes the connection (${transport})`, async () => {
  const s = await openSocket(server.url, { transport });
  await ackOk(s, 'connect-user', { userId: uid('big') });
  const closed = new Promise((resolve) => s.once('disconnect', resolve));
  s.emit('send-message', { userId: 'nobody', message: 'x'.repeat(70 * 1024) });
  const reason = await Promise.race([closed, sleep(3000).then(() => 'still open')]);
  assert.notEqual(reason, 'still open');
  // The server still serves others.
  const other = await openSocket(server.url);
  await ackOk(other, 'connect-user', { userId: uid('after-big') });
  other.close();
});

test('a client that dribbles its request headers is cut off (slowloris)', async () => {
  const { port } = new URL(server.url);
  const started = Date.now();
  const closedAfter = await new Promise((resolve, reject) => {
    const tcp = net.connect(Number(port), '127.0.0.1', () => {
      tcp.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      // One more header line every 300 ms, never the blank line that ends them.
      const drip = setInterval(() => tcp.write('X-Slow: 1\r\n'), 300);
      tcp.once('close', () => {
        clearInterval(drip);
        resolve(Date.now() - started);
      });
    });
    tcp.on('error', () => {});
    setTimeout(() => reject(new Error('the server kept a dribbling connection open for 5 s')), 5000);
  });
  assert.ok(closedAfter < 4000, `closed after ${closedAfter} ms`);
  const res = await fetch(`${server.url}/healthz`);
  assert.equal(res.status, 200, 'a normal request still works');
});
