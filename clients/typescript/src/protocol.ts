// The objects and payloads of the chatzz wire protocol, versions 1 and 1.1
// (docs/protocol.md in the chatzz repository). Names and shapes are the server's.

/** An ISO-8601 UTC timestamp with milliseconds and a `Z`, e.g. `2026-01-02T03:04:05.678Z`. */
export type Timestamp = string;

/** Whatever the host application's user directory says of a user; always has `_id`. */
export interface UserDetails {
  _id: string;
  [field: string]: unknown;
}

export type PresenceStatus = 'online' | 'offline';

/** Only moves forward: `not_sent` -> `sent` -> `read` (or straight to `read`). */
export type MessageStatus = 'not_sent' | 'sent' | 'read';

export interface Message {
  /** Unique; within a room, byte order of ids is creation order. */
  _id: string;
  chatRoomId: string;
  createdAt: Timestamp;
  from: UserDetails;
  to: UserDetails;
  /** `""` for a deleted message (a tombstone). */
  message: string;
  status: MessageStatus;
  readAt: Timestamp | null;
  /** Version 1.1. */
  editedAt?: Timestamp | null;
  /** Version 1.1: set on a tombstone. */
  deletedAt?: Timestamp | null;
}

export interface Contact extends UserDetails {
  chatRoomId: string;
  status: PresenceStatus;
  /** When the contact last went offline; `null` if never. */
  lastOnline: Timestamp | null;
  /** Version 1.1: messages from this contact to me that are not read (tombstones excluded). */
  unreadCount?: number;
  /** Version 1.1: the newest message of the room, either way. */
  lastMessage?: Message | null;
  /** Version 1.1: whether I block this contact. */
  blocked?: boolean;
}

// ---------------------------------------------------------------------------
// Client events: payloads and acknowledgement results.

export interface ConnectUserPayload {
  /** May be omitted when the server authenticates with a JWT. */
  userId?: string;
}

export interface UserDetailsData {
  user: UserDetails;
  status: 'online';
  lastOnline: Timestamp | null;
  /** Contacts, by last activity, newest first. */
  connectedUsers: Contact[];
  /** Messages to me that were `not_sent`, by sender id, oldest first (capped: fetch the rest). */
  missedMessages: Record<string, Message[]>;
}

export interface AddChatUserPayload {
  userToAdd: string;
}

export interface SendMessagePayload {
  userId: string;
  message: string;
  /** Idempotency key (at most 128 characters): a retry with it stores nothing new. */
  clientMessageId?: string;
}

export interface GetOldMessagesPayload {
  userId: string;
  /** Only messages created at or after it (ISO-8601 or epoch milliseconds). */
  date?: string | number;
  /** @deprecated An alias of `date` the server also reads (the original protocol's name). */
  fromDate?: string | number;
  /** Only messages older than this id; `limit` keeps the newest of them. */
  before?: string;
  /** Only messages newer than this id; `limit` keeps the oldest of them. */
  after?: string;
  /** 1 to 500; default 50. */
  limit?: number;
}

export interface MessageReadPayload {
  messageId: string;
}

export type GetContactsPayload = Record<string, never>;

export interface EditMessagePayload {
  messageId: string;
  message: string;
}

export interface DeleteMessagePayload {
  messageId: string;
}

export interface TypingPayload {
  userId: string;
  typing: boolean;
}

export interface BlockPayload {
  userId: string;
}

export interface BlockResult {
  userId: string;
  blocked: boolean;
}

/** Every client event: its payload and what its callback receives on success. */
export interface ClientEvents {
  'connect-user': { payload: ConnectUserPayload; result: UserDetailsData };
  'add-chat-user': { payload: AddChatUserPayload; result: Contact };
  'send-message': { payload: SendMessagePayload; result: Message };
  'get-old-messages': { payload: GetOldMessagesPayload; result: Message[] };
  'message-read': { payload: MessageReadPayload; result: Message };
  'get-contacts': { payload: GetContactsPayload; result: Contact[] };
  'edit-message': { payload: EditMessagePayload; result: Message };
  'delete-message': { payload: DeleteMessagePayload; result: Message };
  typing: { payload: TypingPayload; result: null };
  'block-user': { payload: BlockPayload; result: BlockResult };
  'unblock-user': { payload: BlockPayload; result: BlockResult };
}

export type ClientEventName = keyof ClientEvents;

// ---------------------------------------------------------------------------
// Server events: all come as one Socket.IO event, `chatzz`, carrying `{type, data}`.

export interface StatusChange {
  user: UserDetails;
  status: PresenceStatus;
  lastOnline: Timestamp | null;
}

export interface MessagesRead {
  chatRoomId: string;
  readerId: string;
  /** Every message of the room to `readerId` with an id up to and including it is read. */
  upTo: string;
  readAt: Timestamp;
  count: number;
}

export interface TypingData {
  /** The typer. */
  userId: string;
  chatRoomId: string;
  typing: boolean;
  /** 6000 for a start (treat as stopped after that unless renewed), 0 for a stop. */
  expiresInMs: number;
}

export interface ErrorData {
  /** The client event that failed (`connect` for an expired credential). */
  event: string;
  code: string;
  message: string;
}

/** The `data` of each `type` of `chatzz` event. */
export interface ServerEvents {
  'user-details': UserDetailsData;
  'chat-user-status-changed': StatusChange;
  'chat-user-added': Contact;
  'new-message': Message;
  'message-status-changed': Message;
  'old-messages': Message[];
  contacts: Contact[];
  'message-updated': Message;
  'messages-read': MessagesRead;
  typing: TypingData;
  error: ErrorData;
}

export type ServerEventType = keyof ServerEvents;

/** One `chatzz` envelope, discriminated by `type`. */
export type ServerEnvelope = { [K in ServerEventType]: { type: K; data: ServerEvents[K] } }[ServerEventType];

/** The one Socket.IO event name the server emits. */
export const SERVER_EVENT = 'chatzz';
