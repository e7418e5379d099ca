// docs/asyncapi.yaml is a valid AsyncAPI 3.0 document (the official parser, with its
// rules) and names exactly the package's client events and server event types.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Parser } from '@asyncapi/parser';
import { CLIENT_EVENTS, PROTOCOL_ERROR_CODES, SERVER_EVENT_TYPES } from '../../dist/esm/index.js';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../docs/asyncapi.yaml');
const ERROR = 0; // DiagnosticSeverity.Error
const WARNING = 1;

const parsed = new Parser().parse(fs.readFileSync(DOC, 'utf8'), { source: DOC });

test('docs/asyncapi.yaml is valid AsyncAPI 3.0, without errors or warnings', async () => {
  const { document, diagnostics } = await parsed;
  const problems = diagnostics
    .filter((d) => d.severity <= WARNING)
    .map((d) => `${d.severity === ERROR ? 'error' : 'warning'} ${d.code} at ${d.path.join('.')}: ${d.message}`);
  assert.deepEqual(problems, []);
  assert.ok(document, 'the parser returned a document');
  assert.equal(document.version(), '3.0.0');
});

test('its client events are the package CLIENT_EVENTS, each received with an acknowledgement', async () => {
  const { document } = await parsed;
  const channel = document.channels().get('clientEvents');
  const names = channel.messages().all().map((m) => m.name());
  assert.deepEqual([...names].sort(), [...CLIENT_EVENTS].sort());
  for (const name of CLIENT_EVENTS) {
    const ops = document.operations().all().filter((op) => op.messages().all().some((m) => m.name() === name));
    assert.equal(ops.length, 1, `one operation receives ${name}`);
    assert.ok(ops[0].isReceive(), `${name} is received by the server`);
    assert.ok(ops[0].reply()?.messages().all().some((m) => m.name() === `${name} ack`), `${name} has its acknowledgement`);
  }
});

test('its server events are the package SERVER_EVENT_TYPES, each sent as `chatzz` {type, data}', async () => {
  const { document } = await parsed;
  const messages = document.channels().get('serverEvents').messages().all();
  assert.ok(messages.every((m) => m.name() === 'chatzz'));
  const types = messages.map((m) => m.payload().properties().type.const());
  assert.deepEqual([...types].sort(), [...SERVER_EVENT_TYPES].sort());
  for (const m of messages) assert.equal(m.title(), m.payload().properties().type.const());
  const sent = document
    .operations()
    .all()
    .filter((op) => op.isSend())
    .flatMap((op) => op.messages().all().map((m) => m.title()));
  assert.deepEqual([...sent].sort(), [...SERVER_EVENT_TYPES].sort());
});

test('its error codes are the package PROTOCOL_ERROR_CODES', async () => {
  const { document } = await parsed;
  const code = document.components().schemas().get('ErrorCode');
  assert.deepEqual([...code.enum()].sort(), [...PROTOCOL_ERROR_CODES].sort());
});
