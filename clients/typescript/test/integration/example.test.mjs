// The terminal example, end to end: lines on its stdin reach the other user.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect } from '../../dist/esm/index.js';
import { ChatzzServer, database, uid, until } from './server.mjs';

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/terminal-chat.mjs');
const db = database('memory');
const server = new ChatzzServer(db);
before(() => server.start());
after(() => server.stop());

test('examples/terminal-chat.mjs sends what it reads and prints what it gets', async () => {
  const a = uid('alice');
  const b = uid('bob');
  const bob = connect(server.url, { userId: b });
  await bob.whenReady();
  const child = spawn(process.execPath, [EXAMPLE, server.url, a, b], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  await until(() => out.includes('type a line'), 'the example to start');
  await until(() => bob.state.contact(a), 'bob to be added');
  await bob.sendMessage(a, 'hi alice');
  await until(() => out.includes(`${b}: hi alice`), 'the example to print the message');
  child.stdin.end('hello bob\nsecond line\n');
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0, out);
  await until(() => bob.state.messagesWith(a).length === 3, 'bob to get both lines');
  assert.deepEqual(bob.state.messagesWith(a).map((m) => m.message), ['hi alice', 'hello bob', 'second line']);
  assert.match(out, /stored as \S+, sent/);
  bob.close();
});
