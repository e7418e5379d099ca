// Engine.IO timeouts, driven with raw long-polling requests: a transport that never
// joins the namespace is closed after --connect-timeout; one that stops answering
// pings is closed after --ping-interval + --ping-timeout.

import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { Server, test, sleep } from './harness.mjs';

const server = new Server({ args: ['--connect-timeout', '1', '--ping-interval', '1', '--ping-timeout', '1'] });
before(() => server.start());
after(() => server.stop());

async function open() {
  const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.match(body, /^0\{/, body);
  return JSON.parse(body.slice(1)).sid;
}

/** The session's state as the server sees it: 'open' or 'gone'. */
async function state(sid) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 1500);
  try {
    const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { signal: controller.signal });
    const body = await res.text();
    if (res.status !== 200 || body === '1' || body.startsWith('1')) return 'gone';
    return 'open';
  } catch {
    return 'open'; // a long poll still waiting: the session is alive
  } finally {
    clearTimeout(timer);
  }
}

async function post(sid, packet) {
  const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: packet });
  assert.equal(res.status, 200);
}

test('a transport that never joins the namespace is closed after the connect timeout', async () => {
  const sid = await open();
  await sleep(2500);
  assert.equal(await state(sid), 'gone');
});

test('a client that stops answering pings is dropped after interval + timeout', async () => {
  const sid = await open();
  await post(sid, '40');
  // Read the namespace CONNECT, then go silent: no polls, no pongs.
  await state(sid);
  await sleep(3500);
  assert.equal(await state(sid), 'gone');
});

test('a client that answers pings stays', async () => {
  const sid = await open();
  await post(sid, '40');
  const until = Date.now() + 3500;
  while (Date.now() < until) {
    const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    const body = await res.text();
    assert.equal(res.status, 200, body);
    if (body.split('\x1e').includes('2')) await post(sid, '3');
  }
  await post(sid, '41');
});
