// The messages of one chat room, kept sorted by id without duplicates, and the
// cursor catch-up resumes from.
import { compareIds } from './ids.js';
import { mergeMessage } from './merge.js';
import type { Message } from './protocol.js';

export class Room {
  readonly chatRoomId: string;
  /** The other user of the room. */
  peerId: string;
  private readonly list: Message[] = [];
  private readonly byId = new Map<string, Message>();
  /**
   * Every message of the room up to this id that the state has loaded at all is known
   * (from the oldest loaded one on): catch-up asks the server for what comes after it.
   */
  cursor: string | undefined;
  /**
   * Whether live events move the cursor: false from a disconnect (or, for a room the
   * state learns of then, from a session's start) until catch-up is done.
   */
  live: boolean;
  /**
   * The room's newest message when the session began (its contact's `lastMessage`).
   * The server joins the socket to its user before reading that, so every later message
   * comes live: catch-up only has to reach this id. `until-empty` (a version 1 server,
   * which sends no `lastMessage`): read until an empty page.
   */
  target: { id: string } | 'until-empty' | undefined;

  constructor(chatRoomId: string, peerId: string, live: boolean) {
    this.chatRoomId = chatRoomId;
    this.peerId = peerId;
    this.live = live;
  }

  /** Oldest first. */
  get messages(): readonly Message[] {
    return this.list;
  }

  get(id: string): Message | undefined {
    return this.byId.get(id);
  }

  get newest(): Message | undefined {
    return this.list[this.list.length - 1];
  }

  /** Adds or merges a message; returns what was known of it before (undefined if new). */
  put(message: Message): Message | undefined {
    const known = this.byId.get(message._id);
    const stored = known ? mergeMessage(known, message) : message;
    this.byId.set(stored._id, stored);
    const at = this.indexOf(stored._id);
    if (known) this.list[at] = stored;
    else this.list.splice(at, 0, stored);
    if (this.live && (this.cursor === undefined || compareIds(stored._id, this.cursor) > 0)) this.cursor = stored._id;
    return known;
  }

  /** Replaces a stored message in place (same id), e.g. to mark it read. */
  replace(message: Message): void {
    if (!this.byId.has(message._id)) return;
    this.byId.set(message._id, message);
    this.list[this.indexOf(message._id)] = message;
  }

  /** The position of `id` in the sorted list, or where it would go. */
  private indexOf(id: string): number {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(this.list[mid]!._id, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
