// Two copies of the same message (same `_id`) merged into what is known of it: status
// only moves forward and a deletion is final, so a stale copy (an older history page,
// an event that overtook a reply) never undoes a newer one.
import type { Message, MessageStatus } from './protocol.js';

const RANK: Record<MessageStatus, number> = { not_sent: 0, sent: 1, read: 2 };

export function mergeMessage(known: Message, incoming: Message): Message {
  const merged: Message = { ...known, ...incoming };
  if (RANK[known.status] > RANK[incoming.status]) merged.status = known.status;
  merged.readAt = incoming.readAt ?? known.readAt ?? null;
  // ISO-8601 UTC timestamps of one format compare as strings.
  const knownEdit = known.editedAt ?? '';
  const incomingEdit = incoming.editedAt ?? '';
  if (knownEdit > incomingEdit) {
    merged.editedAt = known.editedAt ?? null;
    merged.message = known.message;
  }
  const deletedAt = known.deletedAt ?? incoming.deletedAt;
  if (deletedAt) {
    merged.deletedAt = deletedAt;
    merged.message = '';
  }
  return merged;
}

export function isDeleted(m: Message): boolean {
  return Boolean(m.deletedAt);
}
