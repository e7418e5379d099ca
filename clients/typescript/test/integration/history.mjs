// Reading what the server stored, to check the client lost and duplicated nothing.

/** Every message of `client`'s room with `peer`, oldest first (paging back with `before`). */
export async function wholeHistory(client, peer) {
  const pages = [];
  let before;
  for (;;) {
    const page = await client.call('get-old-messages', { userId: peer, limit: 500, ...(before ? { before } : {}) });
    if (page.length === 0) break;
    pages.unshift(page);
    before = page[0]._id;
  }
  return pages.flat();
}

/** Asserts that `results` (one per queued message) resolved once each, to distinct stored messages of `texts`. */
export function checkExactlyOnce(assert, results, stored, texts) {
  assert.equal(results.filter((r) => r.settled !== 1).length, 0, 'every message settles exactly once');
  assert.deepEqual(results.map((r) => r.error?.code).filter(Boolean), [], 'no message failed');
  assert.deepEqual(results.map((r) => r.value.message), texts);
  assert.equal(new Set(results.map((r) => r.value._id)).size, texts.length, 'distinct ids');
  assert.deepEqual(stored.map((m) => m.message), texts, 'the server stored each once, in order');
  assert.deepEqual(stored.map((m) => m._id), results.map((r) => r.value._id));
}

/** Follows a queued message's promise: how often it settled and with what. */
export function track(queued) {
  const out = { value: undefined, error: undefined, settled: 0, pending: queued.pending };
  queued.sent.then(
    (v) => {
      out.value = v;
      out.settled += 1;
    },
    (e) => {
      out.error = e;
      out.settled += 1;
    },
  );
  return out;
}
