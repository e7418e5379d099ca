#!/usr/bin/env node
// A chat in a terminal, on @chatzz/client: every line you type goes to the other user
// through the outbox (shown at once as pending, then as stored); what they send, their
// presence and typing show as it comes. Closing stdin (Ctrl-D) waits for the outbox.
//
//   node examples/terminal-chat.mjs http://127.0.0.1:3000 alice bob
//
// (after `npm run build`; both users must have connected once for add-chat-user.)
import readline from 'node:readline';
import { connect } from '@chatzz/client';

const [url = 'http://127.0.0.1:3000', me = 'alice', peer = 'bob'] = process.argv.slice(2);
const chat = connect(url, { userId: me });
const say = (line) => process.stdout.write(`${line}\n`);

chat.on('session', (d) => say(`* connected as ${d.user._id}; ${d.connectedUsers.length} contact(s)`));
chat.on('session-lost', ({ reason }) => say(`* connection lost (${reason}); reconnecting`));
chat.on('client-error', (e) => say(`* ${e.code}: ${e.message}`));
chat.on('new-message', (m) => {
  if (m.from._id === peer) say(`${peer}: ${m.message}`);
});
chat.on('chat-user-status-changed', (d) => d.user._id === peer && say(`* ${peer} is ${d.status}`));
chat.on('typing', (d) => d.userId === peer && d.typing && say(`* ${peer} is typing...`));
chat.on('messages-read', (d) => d.readerId === peer && say(`* ${peer} read up to ${d.upTo}`));

await chat.whenReady();
const contact = await chat.addChatUser(peer);
say(`* chatting with ${peer} (${contact.status}); type a line and press Enter`);
// Mark what is there as read, as a UI would when the conversation is on screen.
const history = await chat.getOldMessages({ userId: peer, limit: 20 });
for (const m of history) say(`${m.from._id}: ${m.deletedAt ? '(deleted)' : m.message}`);
const lastToMe = history.filter((m) => m.to._id === me && m.status !== 'read').at(-1);
if (lastToMe) await chat.markRead(lastToMe._id);

const sending = [];
const input = readline.createInterface({ input: process.stdin });
for await (const line of input) {
  if (!line.trim()) continue;
  const { pending, sent } = chat.send(peer, line);
  say(`(sending ${pending.clientMessageId.slice(0, 8)}) ${me}: ${line}`);
  sending.push(sent.then((m) => say(`(stored as ${m._id}, ${m.status})`)));
}
await Promise.allSettled(sending);
chat.close();
