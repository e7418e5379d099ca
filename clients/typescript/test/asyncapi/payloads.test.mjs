// The payloads of docs/asyncapi.yaml are the package's types: each message's schema (its
// $refs followed by @asyncapi/parser, allOf merged, nullable oneOf unwrapped) has exactly
// the required and optional keys of the field maps of `@chatzz/client/fields`, which tsc
// ties to the TypeScript types, and holds the same objects in the same fields.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Parser } from '@asyncapi/parser';
import { ACK_RESULTS, CLIENT_PAYLOADS, OBJECT_FIELDS, SERVER_DATA } from '@chatzz/client/fields';
import { CLIENT_EVENTS, SERVER_EVENT_TYPES } from '../../dist/esm/index.js';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../docs/asyncapi.yaml');
const parsed = new Parser().parse(fs.readFileSync(DOC, 'utf8'), { source: DOC });

const sorted = (xs) => [...xs].sort();

/** The schema without its `null` alternative (`oneOf: [X, {type: null}]` is X). */
function nonNull(schema) {
  const alts = schema.oneOf();
  if (!alts || !alts.some((s) => s.type() === 'null')) return schema;
  const rest = alts.filter((s) => s.type() !== 'null');
  assert.equal(rest.length, 1, `one non-null alternative of ${schema.id()}`);
  return nonNull(rest[0]);
}

/** Properties and required keys of an object schema, allOf merged. */
function objectKeys(schema, where) {
  const props = {};
  const required = new Set();
  const visit = (s) => {
    for (const part of s.allOf() ?? []) visit(part);
    for (const [k, v] of Object.entries(s.properties() ?? {})) props[k] = v;
    for (const k of s.required() ?? []) required.add(k);
  };
  visit(schema);
  assert.ok(Object.keys(props).length > 0 || schema.type() === 'object', `${where}: an object schema`);
  return { props, required };
}

/** Fails unless `schema` is `shape` ('null', 'X', 'X[]' or 'Record<X[]>', X a field map). */
function checkShape(schema, shape, where) {
  if (shape === 'null') return assert.equal(schema.type(), 'null', `${where}: null`);
  const record = /^Record<(.+)>$/.exec(shape);
  if (record) {
    const s = nonNull(schema);
    assert.equal(s.type(), 'object', `${where}: an object keyed by id`);
    const values = s.additionalProperties();
    assert.equal(typeof values, 'object', `${where}: additionalProperties is a schema`);
    return checkShape(values, record[1], `${where}.*`);
  }
  if (shape.endsWith('[]')) {
    const s = nonNull(schema);
    assert.equal(s.type(), 'array', `${where}: an array`);
    return checkShape(s.items(), shape.slice(0, -2), `${where}[]`);
  }
  const map = OBJECT_FIELDS[shape];
  assert.ok(map, `${where}: ${shape} has a field map`);
  const { props, required } = objectKeys(nonNull(schema), `${where} (${shape})`);
  assert.deepEqual(sorted(required), sorted(map.required), `${where} (${shape}): required keys`);
  const optional = Object.keys(props).filter((k) => !required.has(k));
  assert.deepEqual(sorted(optional), sorted(map.optional), `${where} (${shape}): optional keys`);
  for (const [key, prop] of Object.entries(props)) {
    const nested = map.nested[key];
    if (nested) checkShape(prop, nested, `${where}.${key}`);
    else {
      const s = nonNull(prop);
      const inner = s.type() === 'array' && !Array.isArray(s.items()) ? s.items() : s;
      assert.ok(
        inner.type() !== 'object' && !inner.allOf() && Object.keys(inner.properties() ?? {}).length === 0,
        `${where}.${key} is an object in the document but a plain field in the ${shape} field map`,
      );
    }
  }
}

test('the field maps cover every client event and server event type', () => {
  assert.deepEqual(sorted(Object.keys(CLIENT_PAYLOADS)), sorted(CLIENT_EVENTS));
  assert.deepEqual(sorted(Object.keys(ACK_RESULTS)), sorted(CLIENT_EVENTS));
  assert.deepEqual(sorted(Object.keys(SERVER_DATA)), sorted(SERVER_EVENT_TYPES));
});

test('each client event payload has the keys of the package type', async () => {
  const { document } = await parsed;
  const messages = document.channels().get('clientEvents').messages().all();
  for (const event of CLIENT_EVENTS) {
    const m = messages.find((x) => x.name() === event);
    assert.ok(m, `${event} is in the document`);
    checkShape(m.payload(), CLIENT_PAYLOADS[event], event);
  }
});

test('each acknowledgement is [error, null] or [null, the package result type]', async () => {
  const { document } = await parsed;
  const messages = document.channels().get('acks').messages().all();
  for (const event of CLIENT_EVENTS) {
    const m = messages.find((x) => x.name() === `${event} ack`);
    assert.ok(m, `${event} ack is in the document`);
    const alts = m.payload().oneOf();
    assert.equal(alts?.length, 2, `${event} ack: failure or success`);
    const failure = alts.find((s) => s.id() === 'AckFailure');
    assert.ok(failure, `${event} ack: one alternative is AckFailure`);
    const [err, none] = failure.items();
    checkShapeError(err, `${event} ack[0]`);
    assert.equal(none.type(), 'null');
    const success = alts.find((s) => s !== failure);
    const [first, result] = success.items();
    assert.equal(first.type(), 'null', `${event} ack: the success has a null error`);
    checkShape(result, ACK_RESULTS[event], `${event} ack[1]`);
  }
});

function checkShapeError(schema, where) {
  const { props, required } = objectKeys(schema, where);
  assert.deepEqual(sorted(required), ['code', 'message'], `${where}: {code, message}`);
  assert.deepEqual(sorted(Object.keys(props)), ['code', 'message'], `${where}: {code, message}`);
}

test('each chatzz event type carries the package data type', async () => {
  const { document } = await parsed;
  const messages = document.channels().get('serverEvents').messages().all();
  for (const type of SERVER_EVENT_TYPES) {
    const m = messages.find((x) => x.title() === type);
    assert.ok(m, `${type} is in the document`);
    const { props, required } = objectKeys(m.payload(), type);
    assert.deepEqual(sorted(required), ['data', 'type'], `${type}: {type, data}`);
    checkShape(props.data, SERVER_DATA[type], `${type}.data`);
  }
});
