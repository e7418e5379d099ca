// The Node floor: a socket.io v4 server that answers chatzz-bench with the same events
// and acks as chatzz-relay (crates/chatzz-bench/src/bin/chatzz-relay.rs) and does
// nothing else: no store, no checks. It stands for what the same load costs on the
// stack the original chatzz ran on (Node + socket.io); `scripts/bench-relay` runs it
// beside chatzz and the Rust relay when CHATZZ_NODE_RELAY=1.
//
//   node bench/node-relay.mjs [--listen 127.0.0.1:0] [--reads]
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const args = process.argv.slice(2);
const listen = args.includes('--listen') ? args[args.indexOf('--listen') + 1] : '127.0.0.1:0';
const reads = args.includes('--reads');
const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];

let nextId = 0;
const senders = reads ? new Map() : null;
const message = (id, from, to, text, status, readAt = null) => ({
  _id: id,
  chatRoomId: '1',
  createdAt: new Date().toISOString(),
  from: { _id: from },
  to: { _id: to },
  message: text,
  status,
  readAt,
  editedAt: null,
  deletedAt: null,
});

const http = createServer();
// As chatzz's listener: small writes (acks, events) leave at once.
http.on('connection', (socket) => socket.setNoDelay(true));
const io = new Server(http, { serveClient: false, transports: ['websocket', 'polling'] });
io.on('connection', (socket) => {
  let me = null;
  socket.on('connect-user', (payload, ack) => {
    me = String(payload?.userId ?? '');
    socket.join(me);
    ack?.(null, { user: { _id: me }, status: 'online', lastOnline: null, connectedUsers: [], missedMessages: {} });
  });
  socket.on('add-chat-user', (payload, ack) => {
    ack?.(null, { user: { _id: String(payload?.userToAdd ?? '') }, status: 'online', lastOnline: null });
  });
  socket.on('send-message', (payload, ack) => {
    if (me === null) return;
    nextId += 1;
    const id = String(nextId).padStart(20, '0');
    const to = String(payload?.userId ?? '');
    const m = message(id, me, to, String(payload?.message ?? ''), 'not_sent');
    senders?.set(id, [me, to]);
    io.to([me, to]).emit('chatzz', { type: 'new-message', data: m });
    const sent = { ...m, status: 'sent' };
    io.to([me, to]).emit('chatzz', { type: 'message-status-changed', data: sent });
    ack?.(null, sent);
  });
  socket.on('message-read', (payload, ack) => {
    const id = String(payload?.messageId ?? '');
    const known = senders?.get(id);
    if (!known) {
      ack?.({ code: 'not-found' }, null);
      return;
    }
    senders.delete(id);
    const [from, to] = known;
    const now = new Date().toISOString();
    const m = message(id, from, to, '', 'read', now);
    io.to(from).emit('chatzz', { type: 'message-status-changed', data: m });
    socket.to(to).emit('chatzz', { type: 'message-status-changed', data: m });
    ack?.(null, m);
  });
});
http.listen(port, host, () => {
  const { address, port: bound } = http.address();
  console.log(`node-relay listening on http://${address}:${bound}`);
});
