// The binary's authentication flags: --jwt-secret, --jwt-public-key, and refusing to
// listen beyond loopback without authentication.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, after } from 'node:test';
import { Server, test, CHATZZ_BIN, TESTS_DIR, openSocket, ackOk, ackError } from './harness.mjs';

const SECRET = 'an e2e secret that is long enough!';
const KEYS = path.resolve(TESTS_DIR, '../crates/chatzz/src/test-keys');
const b64url = (v) => Buffer.from(v).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function hs256(claims, secret = SECRET) {
  const signing = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signing}.${crypto.createHmac('sha256', secret).update(signing).digest('base64url')}`;
}

function es256(claims) {
  const signing = `${b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  const key = fs.readFileSync(path.join(KEYS, 'ec-private.pem'));
  const sig = crypto.sign('sha256', Buffer.from(signing), { key, dsaEncoding: 'ieee-p1363' });
  return `${signing}.${sig.toString('base64url')}`;
}

const withSecret = new Server({ args: ['--jwt-secret', SECRET] });
const withKey = new Server({ args: ['--jwt-public-key', path.join(KEYS, 'ec-public.pem')] });
before(async () => {
  await withSecret.start();
  await withKey.start();
});
after(async () => {
  await withSecret.stop();
  await withKey.stop();
});

test('--jwt-secret: no, expired or forged tokens are refused; a valid one acts as its user only', async () => {
  for (const auth of [undefined, { token: 'x' }, { token: hs256({ sub: 'a', exp: now() - 600 }) }, { token: hs256({ sub: 'a', exp: now() + 600 }, 'forged secret, also long enough!!') }]) {
    await assert.rejects(openSocket(withSecret.url, { auth }), /unauthorized/);
  }
  const alice = await openSocket(withSecret.url, { auth: { token: hs256({ sub: 'alice', exp: now() + 600 }) } });
  await ackError(alice, 'connect-user', { userId: 'bob' }, 'forbidden');
  assert.equal((await ackOk(alice, 'connect-user', {})).user._id, 'alice');
  alice.close();
});

test('--jwt-public-key: ES256 tokens from the matching private key only', async () => {
  await assert.rejects(openSocket(withKey.url, { auth: { token: hs256({ sub: 'a', exp: now() + 600 }) } }), /unauthorized/);
  const carol = await openSocket(withKey.url, { auth: { token: es256({ sub: 'carol', exp: now() + 600 }) } });
  assert.equal((await ackOk(carol, 'connect-user', { userId: 'carol' })).user._id, 'carol');
  carol.close();
});

test('without authentication the binary refuses to listen beyond loopback', () => {
  const refused = spawnSync(CHATZZ_BIN, ['--listen', '0.0.0.0:0', '--database', 'memory:'], { encoding: 'utf8', timeout: 10000 });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /refusing to listen on 0\.0\.0\.0:0 without authentication/);
  const short = spawnSync(CHATZZ_BIN, ['--jwt-secret', 'short', '--database', 'memory:'], { encoding: 'utf8', timeout: 10000 });
  assert.notEqual(short.status, 0);
  assert.match(short.stderr, /at least 32 bytes/);
});
