import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import * as esm from '../../dist/esm/index.js';

test('the event name lists hold every protocol event once', () => {
  assert.equal(new Set(esm.CLIENT_EVENTS).size, 11);
  assert.equal(new Set(esm.SERVER_EVENT_TYPES).size, 11);
  assert.ok(esm.CLIENT_EVENTS.includes('message-read'));
  assert.ok(esm.SERVER_EVENT_TYPES.includes('messages-read'));
  assert.equal(esm.SERVER_EVENT, 'chatzz');
});

test('the CommonJS build loads through require and exports the same names', () => {
  const require = createRequire(import.meta.url);
  const cjs = require('../../dist/cjs/index.js');
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
  assert.deepEqual(cjs.CLIENT_EVENTS, esm.CLIENT_EVENTS);
  assert.equal(new cjs.ChatzzError('timeout', 'x').code, 'timeout');
});

test('the package resolves by name, both ways', async () => {
  const require = createRequire(import.meta.url);
  assert.equal(typeof require('@chatzz/client').connect, 'function');
  assert.equal(typeof (await import('@chatzz/client')).connect, 'function');
});
