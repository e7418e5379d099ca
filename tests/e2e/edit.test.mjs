// Protocol 1.1, edit-message: only the sender, on a message not deleted, within the
// edit window; the text rules of send-message; callback Message with editedAt;
// message-updated to every socket of both users (the editing one too); the same text
// again succeeds, keeps editedAt and emits nothing.
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import {
  test,
  useServer,
  Server,
  uid,
  ackOk,
  ackError,
  errorEvent,
  nextChatzz,
  noChatzz,
  take,
  drain,
  makeContacts,
  send,
  settle,
  assertMessage,
  sleep,
  QUIET_MS,
  NO_PAYLOAD,
} from './harness.mjs';

const server = useServer();

// Servers with an edit window of one second: by flag, and by environment variable.
const WINDOW_S = 1;
const shortWindow = new Server({ args: ['--edit-window', String(WINDOW_S)] });
const shortWindowEnv = new Server({ env: { CHATZZ_EDIT_WINDOW: String(WINDOW_S) } });
before(async () => {
  await shortWindow.start();
  await shortWindowEnv.start();
});
after(async () => {
  await shortWindow.stop();
  await shortWindowEnv.stop();
});

const EMOJI = '\u{1F600}';

/** Contacts a (two tabs) and b (two tabs) with one message from a to b, delivered. */
async function withMessage(srv = server, text = 'original') {
  const c = await makeContacts(srv, { prefix: 'ed' });
  const sa2 = await srv.connectUser(c.a);
  const sb2 = await srv.connectUser(c.b);
  const m = await send(c.sa, c.b, text);
  await settle([c.sa, sa2, c.sb, sb2], [m]);
  return { ...c, sa2, sb2, m, all: [c.sa, sa2, c.sb, sb2] };
}

/** After a quiet period, each socket holds exactly `expected` (unconsumed) message-updated events. */
async function exactlyUpdated(sockets, expected) {
  await sleep(QUIET_MS);
  for (const s of sockets) {
    assert.deepEqual(take(s, 'message-updated'), expected, `message-updated on a socket of ${s.userId}`);
  }
}

test('edit-message: callback with editedAt, message-updated to every socket of both users, the editing one too', async () => {
  const { a, b, sa, room, m, all } = await withMessage();
  const t0 = Date.now();
  const r = await ackOk(sa, 'edit-message', { messageId: m._id, message: 'corrected' });
  const t1 = Date.now();
  assertMessage(r, { _id: m._id, chatRoomId: room, from: a, to: b, text: 'corrected', status: 'sent', readAt: null, deletedAt: null, editedAt: 'timestamp' });
  assert.equal(r.createdAt, m.createdAt, 'createdAt is kept');
  const at = Date.parse(r.editedAt);
  assert.ok(at >= t0 - 50 && at <= t1 + 50, `editedAt ${r.editedAt} must be about now`);

  for (const s of all) assert.deepEqual(await nextChatzz(s, 'message-updated'), r);
  await exactlyUpdated(all, []);
  for (const s of all) {
    await noChatzz(s, 'new-message', undefined, 0);
    await noChatzz(s, 'message-status-changed', undefined, 0);
  }
  assert.deepEqual(await ackOk(all[2], 'get-old-messages', { userId: a }), [r]);
});

test('an edit keeps status and readAt; editing again moves editedAt', async () => {
  const { b, sa, sb, m, all } = await withMessage();
  const read = await ackOk(sb, 'message-read', { messageId: m._id });
  await sleep(QUIET_MS);
  for (const s of all) drain(s);
  const e1 = await ackOk(sa, 'edit-message', { messageId: m._id, message: 'v1' });
  assertMessage(e1, { status: 'read', readAt: read.readAt, editedAt: 'timestamp', text: 'v1' });
  await sleep(10);
  const e2 = await ackOk(sa, 'edit-message', { messageId: m._id, message: 'v2' });
  assertMessage(e2, { status: 'read', readAt: read.readAt, editedAt: 'timestamp', text: 'v2' });
  assert.ok(e2.editedAt > e1.editedAt, `editedAt moves: ${e1.editedAt} then ${e2.editedAt}`);
  await exactlyUpdated(all, [e1, e2]);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), [e2]);
});

test('editing to the same text succeeds, leaves editedAt as it was and emits nothing', async () => {
  const { b, sa, sa2, m, all } = await withMessage(server, '  same  ');
  // Never edited: editedAt stays null.
  const r0 = await ackOk(sa, 'edit-message', { messageId: m._id, message: '  same  ' });
  assert.deepEqual(r0, m);
  assert.equal(r0.editedAt, null);
  await exactlyUpdated(all, []);
  // Edited once, then the same text again, from another tab and without a callback.
  const e1 = await ackOk(sa, 'edit-message', { messageId: m._id, message: 'same' });
  assert.equal(e1.message, 'same', 'white space is text: "same" differs from "  same  "');
  await exactlyUpdated(all, [e1]);
  await sleep(10);
  assert.deepEqual(await ackOk(sa2, 'edit-message', { messageId: m._id, message: 'same' }), e1);
  sa.emit('edit-message', { messageId: m._id, message: 'same' });
  await exactlyUpdated(all, []);
  await noChatzz(sa, 'error', undefined, 0);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), [e1]);
});

test('the edited text follows the rules of send-message', async () => {
  const { b, sa, m, all } = await withMessage();
  for (const message of ['', ' ', ' \r\n\t ', 'a\u0000b', '\u0000', 'x'.repeat(4097), EMOJI.repeat(4097)]) {
    await ackError(sa, 'edit-message', { messageId: m._id, message }, 'invalid-argument');
  }
  await errorEvent(sa, 'edit-message', { messageId: m._id, message: '   ' }, 'invalid-argument');
  // docs/protocol.md: the text is checked first, whatever the message.
  await ackError(all[2], 'edit-message', { messageId: m._id, message: '' }, 'invalid-argument');
  await ackError(sa, 'edit-message', { messageId: 'no-such-message', message: 'a\u0000b' }, 'invalid-argument');
  await exactlyUpdated(all, []);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), [m], 'a failed edit changes nothing');

  // At the limit, counted in code points; kept exactly as sent.
  const long = await ackOk(sa, 'edit-message', { messageId: m._id, message: EMOJI.repeat(4096) });
  assert.equal(long.message, EMOJI.repeat(4096));
  const spaced = await ackOk(sa, 'edit-message', { messageId: m._id, message: '  hello\n\tworld  ' });
  assert.equal(spaced.message, '  hello\n\tworld  ');
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), [spaced]);
});

test('only the sender may edit: not-found for the recipient, a third user, an unknown id and a deleted message', async () => {
  const { a, b, sa, sb, m, all } = await withMessage();
  await ackError(sb, 'edit-message', { messageId: m._id, message: 'not mine' }, 'not-found');
  await errorEvent(sb, 'edit-message', { messageId: m._id, message: 'not mine' }, 'not-found');
  const sx = await server.connectUser(uid('third'));
  await ackError(sx, 'edit-message', { messageId: m._id, message: 'not mine' }, 'not-found');
  for (const messageId of ['nope', '00000000000000000000', '99999999999999999999', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '~']) {
    await ackError(sa, 'edit-message', { messageId, message: 'ghost' }, 'not-found');
  }
  await exactlyUpdated(all, []);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), [m]);

  const tomb = await ackOk(sa, 'delete-message', { messageId: m._id });
  await sleep(QUIET_MS);
  for (const s of all) drain(s);
  await ackError(sa, 'edit-message', { messageId: m._id, message: 'revive' }, 'not-found');
  await errorEvent(sa, 'edit-message', { messageId: m._id, message: 'revive' }, 'not-found');
  await exactlyUpdated(all, []);
  assert.deepEqual(await ackOk(sb, 'get-old-messages', { userId: a }), [tomb]);
});

test('edit-message with missing or wrongly typed fields fails with invalid-argument and changes nothing', async () => {
  const { b, sa, m, all } = await withMessage();
  const bad = [
    {},
    { messageId: m._id },
    { message: 'no id' },
    { messageId: m._id, message: null },
    { messageId: m._id, message: 42 },
    { messageId: m._id, message: ['x'] },
    { messageId: m._id, message: { $gt: '' } },
    { messageId: null, message: 'x' },
    { messageId: 42, message: 'x' },
    { messageId: ['x'], message: 'x' },
    { messageId: { $gt: '' }, message: 'x' },
    { messageId: { $ne: null }, message: 'x' },
    { messageId: '', message: 'x' },
  ];
  for (const payload of bad) await ackError(sa, 'edit-message', payload, 'invalid-argument');
  for (const payload of [NO_PAYLOAD, null, 'text', 42, [], [{ messageId: m._id, message: 'x' }]]) {
    await ackError(sa, 'edit-message', payload, 'invalid-argument');
  }
  await errorEvent(sa, 'edit-message', { messageId: { $gt: '' }, message: 'x' }, 'invalid-argument');
  await errorEvent(sa, 'edit-message', { messageId: m._id }, 'invalid-argument');
  await errorEvent(sa, 'edit-message', NO_PAYLOAD, 'invalid-argument');
  await exactlyUpdated(all, []);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), [m]);
});

for (const [label, srv] of [['--edit-window', shortWindow], ['CHATZZ_EDIT_WINDOW', shortWindowEnv]]) {
  test(`past the edit window (${label} ${WINDOW_S}) an edit fails with forbidden; deleting has no time limit`, async () => {
    const { a, b, sa, sb, m, all } = await withMessage(srv);
    const early = await ackOk(sa, 'edit-message', { messageId: m._id, message: 'in time' });
    await exactlyUpdated(all, [early]);
    // The window counts from createdAt, not from the last edit.
    await sleep(WINDOW_S * 1000 - (Date.now() - Date.parse(m.createdAt)) + 300);
    await ackError(sa, 'edit-message', { messageId: m._id, message: 'too late' }, 'forbidden');
    await errorEvent(sa, 'edit-message', { messageId: m._id, message: 'too late' }, 'forbidden');
    await exactlyUpdated(all, []);
    assert.deepEqual(await ackOk(sb, 'get-old-messages', { userId: a }), [early]);
    // A fresh message on the same server can be edited.
    const fresh = await send(sb, a, 'new one');
    const edited = await ackOk(sb, 'edit-message', { messageId: fresh._id, message: 'new one, edited' });
    assertMessage(edited, { _id: fresh._id, editedAt: 'timestamp', text: 'new one, edited' });
    // The old one can still be deleted.
    const tomb = await ackOk(sa, 'delete-message', { messageId: m._id });
    assertMessage(tomb, { _id: m._id, text: '', editedAt: early.editedAt, deletedAt: 'timestamp' });
    assert.ok(b);
  });
}
