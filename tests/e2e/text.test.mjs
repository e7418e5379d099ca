// Message text rules: emptiness, U+0000, length in code points, type.
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import {
  test,
  useServer,
  Server,
  ackOk,
  ackError,
  errorEvent,
  noChatzz,
  makeContacts,
  send,
  assertMessage,
  NO_PAYLOAD,
} from './harness.mjs';

const server = useServer();

// A second server with a small maximum.
const small = new Server({ maxMessageChars: 10 });
before(async () => {
  await small.start();
});
after(async () => {
  await small.stop();
});

const EMOJI = '\u{1F600}'; // 😀, outside the BMP: 2 UTF-16 units, 4 UTF-8 bytes, 1 code point

test('empty, white-space-only and NUL-holding texts fail with invalid-argument', async () => {
  const { b, sa, sb } = await makeContacts(server);
  for (const message of ['', ' ', '   ', '\t', '\n', ' \r\n\t ', 'a\u0000b', '\u0000']) {
    await ackError(sa, 'send-message', { userId: b, message }, 'invalid-argument');
  }
  await errorEvent(sa, 'send-message', { userId: b, message: '  ' }, 'invalid-argument');
  await noChatzz(sb, 'new-message', undefined, 100);
  await noChatzz(sa, 'new-message', undefined, 0);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), []);
});

test('non-string or missing text fails with invalid-argument', async () => {
  const { b, sa } = await makeContacts(server);
  for (const message of [42, null, true, ['hi'], { text: 'hi' }, { $gt: '' }]) {
    await ackError(sa, 'send-message', { userId: b, message }, 'invalid-argument');
  }
  await ackError(sa, 'send-message', { userId: b }, 'invalid-argument');
  await ackError(sa, 'send-message', NO_PAYLOAD, 'invalid-argument');
  await errorEvent(sa, 'send-message', { userId: b, message: 42 }, 'invalid-argument');
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), []);
});

test('text is stored exactly as sent, surrounding white space included', async () => {
  const { a, b, sa } = await makeContacts(server);
  const text = '  hello\n\tworld  ';
  const m = await send(sa, b, text);
  assertMessage(m, { from: a, to: b, text });
  const [h] = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.equal(h.message, text);
  const uni = `caf\u00e9 ${EMOJI} \u4f60\u597d`;
  const m2 = await send(sa, b, uni);
  assert.equal(m2.message, uni);
});

test('default maximum is 4096 code points', async () => {
  const { b, sa } = await makeContacts(server);
  const m = await send(sa, b, 'x'.repeat(4096));
  assert.equal(m.message.length, 4096);
  await ackError(sa, 'send-message', { userId: b, message: 'x'.repeat(4097) }, 'invalid-argument');
  const e = await send(sa, b, EMOJI.repeat(4096));
  assert.equal(e.message, EMOJI.repeat(4096));
  await ackError(sa, 'send-message', { userId: b, message: EMOJI.repeat(4097) }, 'invalid-argument');
});

test('--max-message-chars 10: 10 emoji pass, 11 fail (length counted in code points)', async () => {
  const { b, sa } = await makeContacts(small);
  const ten = EMOJI.repeat(10);
  assert.equal(ten.length, 20); // UTF-16 units: the server must not count these
  const m = await send(sa, b, ten);
  assert.equal(m.message, ten);
  await ackError(sa, 'send-message', { userId: b, message: EMOJI.repeat(11) }, 'invalid-argument');
  await errorEvent(sa, 'send-message', { userId: b, message: EMOJI.repeat(11) }, 'invalid-argument');
  assert.equal((await send(sa, b, 'abcdefghij')).message, 'abcdefghij');
  await ackError(sa, 'send-message', { userId: b, message: 'abcdefghijk' }, 'invalid-argument');
  // surrounding white space counts too: the text is stored as sent
  await ackError(sa, 'send-message', { userId: b, message: ' abcdefghij' }, 'invalid-argument');
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.deepEqual(hist.map((h) => h.message), [ten, 'abcdefghij']);
});
