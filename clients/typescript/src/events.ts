// Runtime lists of the protocol's event names, checked against the types at compile
// time so that they cannot drift apart.
import type { ClientEventName, ServerEventType } from './protocol.js';

/** Every client event name, in the order docs/protocol.md introduces them. */
export const CLIENT_EVENTS = [
  'connect-user',
  'add-chat-user',
  'get-old-messages',
  'send-message',
  'message-read',
  'get-contacts',
  'edit-message',
  'delete-message',
  'typing',
  'block-user',
  'unblock-user',
] as const satisfies readonly ClientEventName[];

/** Every `type` of the server's `chatzz` event. */
export const SERVER_EVENT_TYPES = [
  'user-details',
  'chat-user-status-changed',
  'chat-user-added',
  'new-message',
  'message-status-changed',
  'old-messages',
  'contacts',
  'message-updated',
  'messages-read',
  'typing',
  'error',
] as const satisfies readonly ServerEventType[];

// Fails to compile if a name of the types is missing from a list.
type Missing<All, Listed> = Exclude<All, Listed>;
const clientComplete: Missing<ClientEventName, (typeof CLIENT_EVENTS)[number]> extends never ? true : never = true;
const serverComplete: Missing<ServerEventType, (typeof SERVER_EVENT_TYPES)[number]> extends never ? true : never = true;
void clientComplete;
void serverComplete;
