// @chatzz/client: a typed client for the chatzz protocol (versions 1 and 1.1).
export * from './protocol.js';
export { CLIENT_EVENTS, SERVER_EVENT_TYPES } from './events.js';
export { ChatzzError, PROTOCOL_ERROR_CODES, isChatzzError } from './errors.js';
export type { ErrorCode, ProtocolErrorCode, ClientErrorCode } from './errors.js';
export { ChatzzClient } from './client.js';
export type { ChatzzClientOptions, ChatzzClientEvents } from './client.js';
export { connect } from './connect.js';
export type { ConnectOptions } from './connect.js';
export { Outbox } from './outbox.js';
export type { OutboxHooks, OutboxOptions, Queued } from './outbox.js';
export type { PendingMessage } from './pending.js';
export { ConversationState } from './state.js';
export type { StateChange } from './state.js';
export { Room } from './room.js';
export { mergeMessage } from './merge.js';
export { compareIds, newClientMessageId } from './ids.js';
export type { SocketLike } from './socket.js';
export type { BackoffOptions } from './backoff.js';
