// The field names of every payload of the protocol at run time (`@chatzz/client/fields`),
// tied to the types of protocol.ts at compile time: `tsc` fails if a map misses a key of
// its type, names a key the type lacks, or calls a required key optional (or the other
// way round). The package's tests compare them with docs/asyncapi.yaml.
//
// A separate entry point (not re-exported by the main one), so that applications and
// the demo bundle do not carry it.
import type {
  AddChatUserPayload,
  BlockPayload,
  BlockResult,
  ClientEventName,
  ClientEvents,
  ConnectUserPayload,
  Contact,
  DeleteMessagePayload,
  EditMessagePayload,
  ErrorData,
  GetContactsPayload,
  GetOldMessagesPayload,
  Message,
  MessageReadPayload,
  MessagesRead,
  SendMessagePayload,
  ServerEvents,
  ServerEventType,
  StatusChange,
  TypingData,
  TypingPayload,
  UserDetails,
  UserDetailsData,
} from './protocol.js';

/** The named keys of T (index signatures left out). */
type KnownKeys<T> = keyof {
  [K in keyof T as string extends K ? never : number extends K ? never : symbol extends K ? never : K]: T[K];
};
/** Keys of T that must be present. */
export type RequiredKeys<T> = { [K in KnownKeys<T>]-?: {} extends Pick<T, K> ? never : K }[KnownKeys<T>];
/** Keys of T that may be absent. */
export type OptionalKeys<T> = { [K in KnownKeys<T>]-?: {} extends Pick<T, K> ? K : never }[KnownKeys<T>];

/**
 * A field of an object that is itself one of the protocol's objects: `'Message'`, a list
 * of them (`'Message[]'`) or an object of lists keyed by id (`'Record<Message[]>'`).
 * `null` and absence are told by the types, not here.
 */
export type Nested = `${ObjectName}` | `${ObjectName}[]` | `Record<${ObjectName}[]>`;

/** The keys of one object of the protocol. */
export interface FieldMap {
  readonly required: readonly string[];
  readonly optional: readonly string[];
  /** Fields holding another object of the protocol, by name. */
  readonly nested: { readonly [field: string]: Nested };
  /** Whether the object may carry keys beyond these (`UserDetails` and its extensions). */
  readonly open: boolean;
}

type Exactly<T, R extends readonly unknown[], O extends readonly unknown[]> = [
  Exclude<RequiredKeys<T>, R[number]> | Exclude<OptionalKeys<T>, O[number]>,
] extends [never]
  ? []
  : [missing: Exclude<RequiredKeys<T>, R[number]> | Exclude<OptionalKeys<T>, O[number]>];

/** The field map of T: every key of T in the right list, nothing else (checked by tsc). */
export const fieldsOf =
  <T>() =>
  <
    const R extends readonly RequiredKeys<T>[],
    const O extends readonly OptionalKeys<T>[],
    const N extends { readonly [K in KnownKeys<T>]?: Nested } = {},
  >(
    map: { required: R; optional: O; nested?: N; open?: boolean },
    ..._complete: Exactly<T, R, O>
  ) =>
    ({ required: map.required, optional: map.optional, nested: map.nested ?? ({} as N), open: map.open ?? false }) as const;

/** Every object type of the protocol, by the name its field map has. */
export interface ProtocolObjects {
  UserDetails: UserDetails;
  Message: Message;
  Contact: Contact;
  UserDetailsData: UserDetailsData;
  StatusChange: StatusChange;
  MessagesRead: MessagesRead;
  TypingData: TypingData;
  ErrorData: ErrorData;
  BlockResult: BlockResult;
  ConnectUserPayload: ConnectUserPayload;
  AddChatUserPayload: AddChatUserPayload;
  SendMessagePayload: SendMessagePayload;
  GetOldMessagesPayload: GetOldMessagesPayload;
  MessageReadPayload: MessageReadPayload;
  GetContactsPayload: GetContactsPayload;
  EditMessagePayload: EditMessagePayload;
  DeleteMessagePayload: DeleteMessagePayload;
  TypingPayload: TypingPayload;
  BlockPayload: BlockPayload;
}
export type ObjectName = keyof ProtocolObjects;

/** The keys of every object of the protocol. */
export const OBJECT_FIELDS = {
  UserDetails: fieldsOf<UserDetails>()({ required: ['_id'], optional: [], open: true }),
  Message: fieldsOf<Message>()({
    required: ['_id', 'chatRoomId', 'createdAt', 'from', 'to', 'message', 'status', 'readAt'],
    optional: ['editedAt', 'deletedAt'],
    nested: { from: 'UserDetails', to: 'UserDetails' },
  }),
  Contact: fieldsOf<Contact>()({
    required: ['_id', 'chatRoomId', 'status', 'lastOnline'],
    optional: ['unreadCount', 'lastMessage', 'blocked'],
    nested: { lastMessage: 'Message' },
    open: true,
  }),
  UserDetailsData: fieldsOf<UserDetailsData>()({
    required: ['user', 'status', 'lastOnline', 'connectedUsers', 'missedMessages'],
    optional: [],
    nested: { user: 'UserDetails', connectedUsers: 'Contact[]', missedMessages: 'Record<Message[]>' },
  }),
  StatusChange: fieldsOf<StatusChange>()({
    required: ['user', 'status', 'lastOnline'],
    optional: [],
    nested: { user: 'UserDetails' },
  }),
  MessagesRead: fieldsOf<MessagesRead>()({ required: ['chatRoomId', 'readerId', 'upTo', 'readAt', 'count'], optional: [] }),
  TypingData: fieldsOf<TypingData>()({ required: ['userId', 'chatRoomId', 'typing', 'expiresInMs'], optional: [] }),
  ErrorData: fieldsOf<ErrorData>()({ required: ['event', 'code', 'message'], optional: [] }),
  BlockResult: fieldsOf<BlockResult>()({ required: ['userId', 'blocked'], optional: [] }),
  ConnectUserPayload: fieldsOf<ConnectUserPayload>()({ required: [], optional: ['userId'] }),
  AddChatUserPayload: fieldsOf<AddChatUserPayload>()({ required: ['userToAdd'], optional: [] }),
  SendMessagePayload: fieldsOf<SendMessagePayload>()({ required: ['userId', 'message'], optional: ['clientMessageId'] }),
  GetOldMessagesPayload: fieldsOf<GetOldMessagesPayload>()({
    required: ['userId'],
    optional: ['date', 'fromDate', 'before', 'after', 'limit'],
  }),
  MessageReadPayload: fieldsOf<MessageReadPayload>()({ required: ['messageId'], optional: [] }),
  GetContactsPayload: fieldsOf<GetContactsPayload>()({ required: [], optional: [] }),
  EditMessagePayload: fieldsOf<EditMessagePayload>()({ required: ['messageId', 'message'], optional: [] }),
  DeleteMessagePayload: fieldsOf<DeleteMessagePayload>()({ required: ['messageId'], optional: [] }),
  TypingPayload: fieldsOf<TypingPayload>()({ required: ['userId', 'typing'], optional: [] }),
  BlockPayload: fieldsOf<BlockPayload>()({ required: ['userId'], optional: [] }),
} as const satisfies { [N in ObjectName]: FieldMap };

/** The name of the object type equal to T (both ways assignable). */
type NameOf<T> = {
  [N in ObjectName]: [ProtocolObjects[N]] extends [T] ? ([T] extends [ProtocolObjects[N]] ? N : never) : never;
}[ObjectName];
/** How a payload of type T is described: an object's name, a list of them, or `null`. */
export type Shape<T> = [T] extends [null]
  ? 'null'
  : T extends readonly (infer E)[]
    ? `${NameOf<E>}[]`
    : NameOf<T>;

/** The payload object of each client event. */
export const CLIENT_PAYLOADS = {
  'connect-user': 'ConnectUserPayload',
  'add-chat-user': 'AddChatUserPayload',
  'get-old-messages': 'GetOldMessagesPayload',
  'send-message': 'SendMessagePayload',
  'message-read': 'MessageReadPayload',
  'get-contacts': 'GetContactsPayload',
  'edit-message': 'EditMessagePayload',
  'delete-message': 'DeleteMessagePayload',
  typing: 'TypingPayload',
  'block-user': 'BlockPayload',
  'unblock-user': 'BlockPayload',
} as const satisfies { [E in ClientEventName]: Shape<ClientEvents[E]['payload']> };

/** What each client event's acknowledgement carries on success. */
export const ACK_RESULTS = {
  'connect-user': 'UserDetailsData',
  'add-chat-user': 'Contact',
  'get-old-messages': 'Message[]',
  'send-message': 'Message',
  'message-read': 'Message',
  'get-contacts': 'Contact[]',
  'edit-message': 'Message',
  'delete-message': 'Message',
  typing: 'null',
  'block-user': 'BlockResult',
  'unblock-user': 'BlockResult',
} as const satisfies { [E in ClientEventName]: Shape<ClientEvents[E]['result']> };

/** The `data` of each `type` of `chatzz` event. */
export const SERVER_DATA = {
  'user-details': 'UserDetailsData',
  'chat-user-status-changed': 'StatusChange',
  'chat-user-added': 'Contact',
  'new-message': 'Message',
  'message-status-changed': 'Message',
  'old-messages': 'Message[]',
  contacts: 'Contact[]',
  'message-updated': 'Message',
  'messages-read': 'MessagesRead',
  typing: 'TypingData',
  error: 'ErrorData',
} as const satisfies { [T in ServerEventType]: Shape<ServerEvents[T]> };
