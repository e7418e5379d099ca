// The jwt example: a login route issues tokens; a connection without a valid one is
// refused; a valid one can only act as its own user.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, after } from 'node:test';
import { test, ackOk, ackError, nextChatzz, openSocket } from '../e2e/harness.mjs';
import { startExample } from './example.mjs';

const SECRET = 'a secret only this test knows, 32+ bytes';
let app;
before(async () => {
  app = await startExample('jwt', { CHATZZ_EXAMPLE_SECRET: SECRET });
});
after(async () => {
  await app?.stop();
});

const b64url = (value) => Buffer.from(value).toString('base64url');
function sign(claims, { secret = SECRET, alg = 'HS256' } = {}) {
  const head = b64url(JSON.stringify({ alg, typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const hash = { HS256: 'sha256', HS512: 'sha512' }[alg];
  const sig = crypto.createHmac(hash, secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}
const now = () => Math.floor(Date.now() / 1000);

async function login(username, password) {
  return fetch(`${app.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
}

/** Resolves with the socket once connected, or rejects with the connect_error. */
function connect(auth) {
  return openSocket(app.url, { auth });
}

test('login issues a token for a right password only', async () => {
  assert.equal((await login('alice', 'nope')).status, 401);
  const res = await login('alice', 'wonderland');
  assert.equal(res.status, 200);
  assert.match((await res.json()).token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
});

test('connections without a valid token are refused', async () => {
  const cases = {
    'no auth': undefined,
    'no token': {},
    garbage: { token: 'not-a-jwt' },
    expired: { token: sign({ sub: 'alice', exp: now() - 3600 }) },
    'wrong secret': { token: sign({ sub: 'alice', exp: now() + 600 }, { secret: 'another secret entirely, also long' }) },
    'other algorithm': { token: sign({ sub: 'alice', exp: now() + 600 }, { alg: 'HS512' }) },
    'no exp': { token: sign({ sub: 'alice' }) },
    'unsigned (alg none)': { token: `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify({ sub: 'alice', exp: now() + 600 }))}.` },
  };
  for (const [name, auth] of Object.entries(cases)) {
    await assert.rejects(connect(auth), (err) => {
      assert.match(err.message, /unauthorized/, `${name}: ${err.message}`);
      return true;
    }, name);
  }
});

test('a valid token acts as its own user only', async () => {
  const { token: aliceToken } = await (await login('alice', 'wonderland')).json();
  const { token: bobToken } = await (await login('bob', 'builder')).json();
  const alice = await connect({ token: aliceToken });
  const bob = await connect({ token: bobToken });
  // userId may be omitted: the token names the user.
  const details = await ackOk(alice, 'connect-user', {});
  assert.equal(details.user._id, 'alice');
  await ackError(bob, 'connect-user', { userId: 'alice' }, 'forbidden');
  assert.equal((await ackOk(bob, 'connect-user', { userId: 'bob' })).user._id, 'bob');
  await ackOk(alice, 'add-chat-user', { userToAdd: 'bob' });
  const sent = await ackOk(alice, 'send-message', { userId: 'bob', message: 'signed and sealed' });
  assert.equal(sent.from._id, 'alice');
  const received = await nextChatzz(bob, 'new-message', (m) => m._id === sent._id);
  assert.equal(received.message, 'signed and sealed');
  alice.close();
  bob.close();
});
