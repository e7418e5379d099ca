import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConversationState, mergeMessage } from '../../dist/esm/index.js';
import { contact, details, message } from './fake-socket.mjs';

const ev = (type, data) => ({ type, data });

function stateOfBob(opts = {}) {
  const s = new ConversationState();
  s.applySession(details('bob', { contacts: [contact('alice', { room: 'r1', unreadCount: 0 })], ...opts }));
  return s;
}

test('new messages are kept in id order without duplicates; statuses only move forward', () => {
  const s = stateOfBob();
  const m1 = message({ id: '01', from: 'alice', to: 'bob', status: 'not_sent' });
  const m2 = message({ id: '02', from: 'bob', to: 'alice', status: 'not_sent' });
  s.apply(ev('new-message', m2));
  s.apply(ev('new-message', m1));
  s.apply(ev('message-status-changed', { ...m1, status: 'read', readAt: '2026-01-01T00:00:01.000Z' }));
  s.apply(ev('old-messages', [m1, m2])); // stale copies
  assert.deepEqual(s.messagesWith('alice').map((m) => [m._id, m.status]), [
    ['01', 'read'],
    ['02', 'not_sent'],
  ]);
});

test('presence, added contacts and typing (with its expiry)', () => {
  const s = stateOfBob();
  s.apply(ev('chat-user-status-changed', { user: { _id: 'alice' }, status: 'offline', lastOnline: '2026-01-01T00:00:00.000Z' }));
  assert.equal(s.contact('alice').status, 'offline');
  assert.equal(s.contact('alice').lastOnline, '2026-01-01T00:00:00.000Z');
  s.apply(ev('chat-user-added', contact('carol', { room: 'r2' })));
  assert.equal(s.roomWith('carol').chatRoomId, 'r2');
  s.apply(ev('typing', { userId: 'carol', chatRoomId: 'r2', typing: true, expiresInMs: 6000 }));
  assert.equal(s.isTyping('carol'), true);
  assert.equal(s.isTyping('carol', Date.now() + 6001), false);
  s.apply(ev('new-message', message({ id: '05', room: 'r2', from: 'carol', to: 'bob' })));
  assert.equal(s.isTyping('carol'), false);
});

test('messages-read marks every earlier message to the reader read and fixes my unread count', () => {
  const s = stateOfBob();
  for (const id of ['01', '02', '03']) s.apply(ev('new-message', message({ id, from: 'alice', to: 'bob' })));
  s.apply(ev('new-message', message({ id: '04', from: 'bob', to: 'alice' })));
  assert.equal(s.contact('alice').unreadCount, 3);
  s.apply(ev('messages-read', { chatRoomId: 'r1', readerId: 'bob', upTo: '02', readAt: '2026-01-01T00:00:09.000Z', count: 2 }));
  assert.deepEqual(s.messagesWith('alice').map((m) => m.status), ['read', 'read', 'sent', 'sent']);
  assert.equal(s.contact('alice').unreadCount, 1);
  // My own read (the message-read ack): the rest.
  s.applyOwnRead({ ...message({ id: '03', from: 'alice', to: 'bob' }), status: 'read', readAt: '2026-01-01T00:00:10.000Z' });
  assert.equal(s.contact('alice').unreadCount, 0);
  assert.equal(s.messagesWith('alice')[2].readAt, '2026-01-01T00:00:10.000Z');
});

test('message-updated applies edits and tombstones; a tombstone is final', () => {
  const s = stateOfBob();
  const m = message({ id: '01', from: 'alice', to: 'bob', text: 'helo' });
  s.apply(ev('new-message', m));
  s.apply(ev('message-updated', { ...m, message: 'hello', editedAt: '2026-01-01T00:00:01.000Z' }));
  assert.equal(s.messagesWith('alice')[0].message, 'hello');
  assert.equal(s.contact('alice').unreadCount, 1);
  s.apply(ev('message-updated', { ...m, message: '', editedAt: '2026-01-01T00:00:01.000Z', deletedAt: '2026-01-01T00:00:02.000Z' }));
  s.apply(ev('old-messages', [m])); // an old copy does not bring the text back
  assert.equal(s.messagesWith('alice')[0].message, '');
  assert.equal(s.contact('alice').unreadCount, 0);
});

test('mergeMessage keeps the newer edit and the deletion', () => {
  const base = message({ id: '01', text: 'a' });
  const edited = { ...base, message: 'b', editedAt: '2026-01-01T00:00:05.000Z' };
  assert.equal(mergeMessage(edited, base).message, 'b');
  assert.equal(mergeMessage(base, edited).message, 'b');
});

test('the session seeds rooms: at the oldest missed message, else at the newest one', () => {
  const last = message({ id: '09', from: 'bob', to: 'alice' });
  const missed = [message({ id: '03', room: 'r2', from: 'carol', to: 'bob', status: 'sent' })];
  const s = new ConversationState();
  s.applySession(
    details('bob', {
      contacts: [contact('alice', { room: 'r1', lastMessage: last }), contact('carol', { room: 'r2', unreadCount: 1 })],
      missed: { carol: missed },
    }),
  );
  assert.equal(s.roomWith('alice').cursor, '09');
  assert.deepEqual(s.roomWith('alice').target, { id: '09' }, 'nothing to catch up');
  assert.equal(s.roomWith('carol').cursor, '03');
  assert.equal(s.roomWith('carol').live, false, 'catch-up must load what follows the missed messages');
  assert.equal(s.contact('carol').unreadCount, 1, 'missed messages are counted by the server already');
  // By last activity: carol's missed message was created after alice's last one.
  assert.deepEqual(s.contacts.map((c) => c._id), ['carol', 'alice']);
});

test('without lastMessage (a version 1 server) catch-up reads until an empty page', () => {
  const s = new ConversationState();
  const v1 = { _id: 'alice', chatRoomId: 'r1', status: 'online', lastOnline: null };
  s.applySession(details('bob', { contacts: [v1], missed: { alice: [message({ id: '03', from: 'alice', to: 'bob' })] } }));
  assert.equal(s.roomWith('alice').target, 'until-empty');
  assert.equal(s.roomWith('alice').cursor, '03');
});

test('change events tell a UI what to redraw', () => {
  const s = stateOfBob();
  const changes = [];
  s.on('change', (c) => changes.push(c));
  s.apply(ev('new-message', message({ id: '01', from: 'alice', to: 'bob' })));
  s.apply(ev('chat-user-status-changed', { user: { _id: 'alice' }, status: 'offline', lastOnline: null }));
  assert.deepEqual(changes, [
    { kind: 'new-message', peerId: 'alice' },
    { kind: 'chat-user-status-changed', peerId: 'alice' },
  ]);
});
