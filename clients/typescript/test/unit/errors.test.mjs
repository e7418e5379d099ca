import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatzzError, PROTOCOL_ERROR_CODES, compareIds, isChatzzError } from '../../dist/esm/index.js';

test('a protocol error object becomes a ChatzzError with its code', () => {
  const e = ChatzzError.fromWire({ code: 'not-a-contact', message: 'no room' }, 'send-message');
  assert.ok(isChatzzError(e));
  assert.ok(e instanceof Error);
  assert.equal(e.code, 'not-a-contact');
  assert.equal(e.message, 'no room');
  assert.equal(e.event, 'send-message');
  assert.equal(e.retryable, false);
});

test('unknown codes and non-objects do not pass as protocol codes', () => {
  assert.equal(ChatzzError.fromWire({ code: 'brand-new', message: 'x' }).code, 'internal');
  assert.equal(ChatzzError.fromWire('oops').code, 'bad-reply');
});

test('retryable codes are the transient ones', () => {
  const retryable = [...PROTOCOL_ERROR_CODES, 'timeout', 'disconnected', 'closed', 'bad-reply'].filter(
    (code) => new ChatzzError(code, '').retryable,
  );
  assert.deepEqual(retryable.sort(), ['disconnected', 'not-connected', 'rate-limited', 'timeout', 'unavailable']);
});

test('PROTOCOL_ERROR_CODES lists the codes of docs/protocol.md', () => {
  assert.deepEqual([...PROTOCOL_ERROR_CODES].sort(), [
    'forbidden',
    'internal',
    'invalid-argument',
    'not-a-contact',
    'not-connected',
    'not-found',
    'rate-limited',
    'unavailable',
    'unknown-user',
  ]);
});

test('compareIds orders by UTF-8 bytes (code points), not UTF-16 units', () => {
  assert.equal(compareIds('00000000000000000009', '00000000000000000010'), -1);
  assert.equal(compareIds('a', 'a'), 0);
  assert.equal(compareIds('a', 'ab'), -1);
  // U+FF5E sorts before U+1F600 in UTF-8, after it in UTF-16.
  assert.equal(compareIds('\uFF5E', '\u{1F600}'), -1);
  assert.ok('\uFF5E' > '\u{1F600}');
});
