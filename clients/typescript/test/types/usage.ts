// Compile-time checks of the public types (`npm run typecheck`): what a user writes
// type-checks, and the mistakes marked @ts-expect-error do not.
import { connect, ChatzzError, type ErrorCode, type Message, type PendingMessage } from '@chatzz/client';

export async function usage(): Promise<void> {
  const chat = connect('http://127.0.0.1:3000', { userId: 'alice', ackTimeoutMs: 5000 });

  chat.on('new-message', (m: Message) => void m._id);
  chat.on('messages-read', (r) => void (r.upTo.length + r.count));
  chat.on('typing', (t) => void (t.expiresInMs > 0 && t.typing));
  chat.on('session', (d) => void d.connectedUsers.map((c) => c.unreadCount ?? 0));
  // @ts-expect-error: no such server event
  chat.on('user-status-changed', () => {});
  // @ts-expect-error: new-message carries a Message, not a string
  chat.on('new-message', (m: string) => void m);

  const contact = await chat.addChatUser('bob');
  const page: Message[] = await chat.getOldMessages({ userId: contact._id, after: 'x', limit: 10 });
  void page;
  const { pending, sent } = chat.send('bob', 'hello');
  const p: PendingMessage = pending;
  void p;
  const stored: Message = await sent;
  void stored;
  // @ts-expect-error: send-message needs a message
  await chat.call('send-message', { userId: 'bob' });
  // @ts-expect-error: typing takes a boolean
  await chat.typing('bob', 'yes');

  try {
    await chat.markRead(stored._id);
  } catch (e) {
    if (e instanceof ChatzzError) {
      const code: ErrorCode = e.code;
      if (code === 'not-found' || code === 'timeout') return;
      // @ts-expect-error: not a code of the protocol or the client
      if (code === 'no-such-code') return;
    }
  }
}
