// Token claims beyond signature and exp: nbf, and the --jwt-issuer / --jwt-audience pins.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { before, after } from 'node:test';
import { Server, test, CHATZZ_BIN, openSocket, ackOk } from './harness.mjs';

const SECRET = 'an e2e secret that is long enough!';
const ISSUER = 'https://login.example';
const AUDIENCE = 'chat';
const b64url = (v) => Buffer.from(v).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function hs256(claims) {
  const signing = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signing}.${crypto.createHmac('sha256', SECRET).update(signing).digest('base64url')}`;
}

const plain = new Server({ args: ['--jwt-secret', SECRET] });
const pinned = new Server({ args: ['--jwt-secret', SECRET, '--jwt-issuer', ISSUER, '--jwt-audience', AUDIENCE] });
before(async () => {
  await plain.start();
  await pinned.start();
});
after(async () => {
  await plain.stop();
  await pinned.stop();
});

async function refused(server, claims) {
  const err = await openSocket(server.url, { auth: { token: hs256(claims) } }).then(
    (s) => {
      s.close();
      return null;
    },
    (e) => e,
  );
  assert.ok(err, `${JSON.stringify(claims)} should be refused`);
  return err.message;
}

test('a token whose nbf is in the future is refused; a past nbf is fine', async () => {
  assert.match(await refused(plain, { sub: 'a', exp: now() + 600, nbf: now() + 300 }), /unauthorized: the token is not valid yet/);
  const s = await openSocket(plain.url, { auth: { token: hs256({ sub: 'nbf-ok', exp: now() + 600, nbf: now() - 10 }) } });
  assert.equal((await ackOk(s, 'connect-user', {})).user._id, 'nbf-ok');
  s.close();
});

test('--jwt-issuer / --jwt-audience: both claims required and must match', async () => {
  const good = { sub: 'pinned', exp: now() + 600, iss: ISSUER, aud: AUDIENCE };
  const s = await openSocket(pinned.url, { auth: { token: hs256(good) } });
  assert.equal((await ackOk(s, 'connect-user', {})).user._id, 'pinned');
  s.close();
  const list = await openSocket(pinned.url, { auth: { token: hs256({ ...good, aud: ['mail', AUDIENCE] }) } });
  list.close();

  assert.match(await refused(pinned, { ...good, iss: 'https://evil.example' }), /unauthorized: the token's iss is not the expected issuer/);
  assert.match(await refused(pinned, { ...good, aud: 'mail' }), /unauthorized: the token's aud is not the expected audience/);
  const { iss, ...noIss } = good;
  assert.match(await refused(pinned, noIss), /lacks the iss claim/);
  const { aud, ...noAud } = good;
  assert.match(await refused(pinned, noAud), /lacks the aud claim/);
  // Without the pins, iss is not checked.
  const unpinned = await openSocket(plain.url, { auth: { token: hs256({ sub: 'any-iss', exp: now() + 600, iss: 'https://evil.example' }) } });
  unpinned.close();
});

test('--jwt-issuer without a JWT key, or a short secret, is a configuration error', () => {
  const lone = spawnSync(CHATZZ_BIN, ['--listen', '127.0.0.1:0', '--database', 'memory:', '--jwt-issuer', ISSUER], { encoding: 'utf8', timeout: 10000 });
  assert.notEqual(lone.status, 0);
  assert.match(lone.stderr, /--jwt-issuer and --jwt-audience need --jwt-secret or --jwt-public-key/);
  const short = spawnSync(CHATZZ_BIN, ['--listen', '127.0.0.1:0', '--database', 'memory:', '--jwt-secret', 'x'.repeat(31)], { encoding: 'utf8', timeout: 10000 });
  assert.notEqual(short.status, 0);
  assert.match(short.stderr, /at least 32 bytes/);
});
