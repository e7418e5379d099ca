// Message ids and client message ids.

/**
 * Compares two message ids in the protocol's order (UTF-8 byte order, which is code
 * point order; JavaScript's `<` compares UTF-16 units and differs past U+FFFF).
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
}

/** A fresh `clientMessageId`: unique per sender is what the server needs. */
export function newClientMessageId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  // Old runtimes: time plus randomness, still far below the 128-character limit.
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}
