// GET /metrics: Prometheus text with sockets, users online, messages, events, errors and
// store call latencies.

import assert from 'node:assert/strict';
import { useServer, test, makeContacts, ackOk, ackError } from './harness.mjs';

const server = useServer();

function value(text, name, labels = '') {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

test('metrics count what happened', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'metrics' });
  for (let i = 0; i < 3; i += 1) await ackOk(sa, 'send-message', { userId: b, message: `m${i}` });
  await ackError(sa, 'send-message', { userId: b, message: '' }, 'invalid-argument');
  await ackOk(sb, 'get-old-messages', { userId: a });

  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain/);
  const text = await res.text();
  assert.equal(value(text, 'chatzz_sockets'), 2);
  assert.equal(value(text, 'chatzz_users_online'), 2);
  assert.equal(value(text, 'chatzz_messages_sent_total'), 3);
  assert.equal(value(text, 'chatzz_messages_delivered_total'), 3, 'bob was online for all three');
  assert.equal(value(text, 'chatzz_events_total', '{event="send-message"}'), 4);
  assert.equal(value(text, 'chatzz_events_total', '{event="connect-user"}'), 2);
  assert.equal(value(text, 'chatzz_errors_total', '{event="send-message",code="invalid-argument"}'), 1);
  assert.equal(value(text, 'chatzz_store_call_seconds_count', '{method="insert_message"}'), 3);
  assert.ok(text.includes('chatzz_store_call_seconds_bucket{method="insert_message",le="0.001"}'), 'latency histogram buckets');

  sa.close();
  sb.close();
  await new Promise((r) => setTimeout(r, 300));
  const after = await (await fetch(`${server.url}/metrics`)).text();
  assert.equal(value(after, 'chatzz_sockets'), 0);
  assert.equal(value(after, 'chatzz_users_online'), 0);
});
