// With --jwt-secret the user comes from the credential: the client sends connect-user
// without a userId, and a token function is asked again at every connect.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { connect } from '../../dist/esm/index.js';
import { ChatzzServer, FAST_RECONNECT, database, uid, until } from './server.mjs';

const SECRET = 'a test secret of at least thirty-two bytes';
const db = database('memory');
const server = new ChatzzServer(db, { args: ['--jwt-secret', SECRET] });
before(() => server.start());
after(() => server.stop());

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
function hs256(claims) {
  const body = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

test('a token function: the session is the token subject, again after a reconnect', async () => {
  const sub = uid('jwt');
  let asked = 0;
  const chat = connect(server.url, {
    token: () => {
      asked += 1;
      return hs256({ sub, exp: Math.floor(Date.now() / 1000) + 600 });
    },
    socket: FAST_RECONNECT,
  });
  const sessions = [];
  chat.on('session', (d) => sessions.push(d.user._id));
  await chat.whenReady();
  chat.socket.io.engine.close();
  await until(() => sessions.length === 2, 'a second session');
  assert.deepEqual(sessions, [sub, sub]);
  assert.ok(asked >= 2, 'the token was asked for again');
  chat.close();
});
