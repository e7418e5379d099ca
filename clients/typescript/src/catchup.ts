// Catch-up after a (re)connect: every room that does not follow live events yet asks
// `get-old-messages` for what came after its cursor, page after page, up to the room's
// newest message at the session's start (what came later arrives live). Pages are
// merged by id, so what also arrived live is not duplicated.
import { ChatzzError } from './errors.js';
import { compareIds } from './ids.js';
import type { Message, GetOldMessagesPayload } from './protocol.js';
import type { Room } from './room.js';
import type { ConversationState } from './state.js';

export interface CatchUpOptions {
  fetchPage(query: GetOldMessagesPayload): Promise<Message[]>;
  /** Messages per page, at most 500. */
  pageSize: number;
  /** A room that cannot be caught up for good (not a contact any more, say): it goes live with its gap. */
  onRoomError(error: ChatzzError): void;
}

/**
 * Catches up every suspended room; returns the ids of the rooms caught up. A retryable
 * failure (a lost connection, `unavailable`, `rate-limited`) rejects: the caller tries
 * again, from where each room got to.
 */
export async function catchUp(state: ConversationState, { fetchPage, pageSize, onRoomError }: CatchUpOptions): Promise<string[]> {
  const done: string[] = [];
  for (const room of state.allRooms) {
    if (room.live) continue;
    try {
      while (room.cursor !== undefined && before(room.cursor, room.target)) {
        const page = await fetchPage({ userId: room.peerId, after: room.cursor, limit: pageSize });
        if (page.length === 0) break;
        state.putMessages(page);
        // Pages are oldest first; a page cut by the server's size cap still skips nothing.
        room.cursor = page[page.length - 1]!._id;
      }
    } catch (e) {
      if (!(e instanceof ChatzzError) || e.retryable) throw e;
      onRoomError(e);
    }
    state.resume(room);
    done.push(room.chatRoomId);
  }
  return done;
}

/** Whether the cursor has not reached the room's catch-up target yet. */
function before(cursor: string, target: Room['target']): boolean {
  if (target === undefined) return false;
  return target === 'until-empty' || compareIds(cursor, target.id) < 0;
}
