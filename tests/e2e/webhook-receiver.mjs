// A webhook receiver for the offline-notification tests: a real HTTP server on
// 127.0.0.1 that records every request (raw body, headers, whether the signature
// verifies) and answers as the test says, per request: a status code, 'hang' (never
// answer: the server's 10 s timeout), or 'reset' (drop the connection).

import crypto from 'node:crypto';
import http from 'node:http';
import { sleep } from './harness.mjs';

/** A secret of 32+ bytes, as --webhook-secret needs. */
export const WEBHOOK_SECRET = 'whsec_test_0123456789abcdef0123456789abcdef';

/**
 * The check a receiver makes (docs/notifications.md): `Chatzz-Signature: t=<unix s>,v1=<hex>`
 * where v1 = HMAC-SHA256(secret, `${t}.${rawBody}`), and t within `toleranceS` of now.
 */
export function verifySignature(secret, header, rawBody, toleranceS = 300) {
  const parts = Object.fromEntries(String(header || '').split(',').map((kv) => kv.split('=', 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1) return false;
  if (Math.abs(Date.now() / 1000 - t) > toleranceS) return false;
  const expected = crypto.createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest('hex');
  const given = Buffer.from(parts.v1, 'hex');
  const wanted = Buffer.from(expected, 'hex');
  return given.length === wanted.length && crypto.timingSafeEqual(given, wanted);
}

export class Receiver {
  constructor(secret = WEBHOOK_SECRET) {
    this.secret = secret;
    this.requests = [];
    this.waiters = [];
    this.port = 0;
    this.server = null;
    this.hanging = new Set();
    /** (body, request number of this delivery id from 1) => status | 'hang' | 'reset'. */
    this.answer = () => 200;
  }

  get url() {
    return `http://127.0.0.1:${this.port}/hooks/chatzz`;
  }

  async start() {
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let body = null;
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          body = null;
        }
        const attempt = this.requests.filter((r) => r.body && body && r.body.id === body.id).length + 1;
        const reply = this.answer(body, attempt);
        const entry = {
          at: Date.now(),
          method: req.method,
          path: req.url,
          headers: req.headers,
          raw,
          body,
          attempt,
          reply,
          valid: verifySignature(this.secret, req.headers['chatzz-signature'], raw),
        };
        this.requests.push(entry);
        for (const w of [...this.waiters]) w();
        if (reply === 'hang') {
          this.hanging.add(res);
          return;
        }
        if (reply === 'reset') {
          req.socket.destroy();
          return;
        }
        res.writeHead(reply, { 'content-type': 'text/plain' });
        res.end(String(reply));
        entry.answeredAt = Date.now();
      });
    });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = this.server.address().port;
    return this;
  }

  /** Stop listening (connections are then refused); the port is kept for a restart. */
  async stop() {
    for (const res of this.hanging) res.socket?.destroy();
    this.hanging.clear();
    if (!this.server) return;
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(() => resolve()));
    this.server = null;
  }

  /** The requests about message `id`. */
  about(id) {
    return this.requests.filter((r) => r.body && r.body.id === id);
  }

  /** Wait for a request matching `predicate`; fails after `timeoutMs`. */
  async next(predicate, timeoutMs, what = 'a webhook request') {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.requests.find(predicate);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms (got ${this.requests.length} requests)`);
      await new Promise((resolve) => {
        const timer = setTimeout(done, Math.min(left, 200));
        const waiters = this.waiters;
        function done() {
          clearTimeout(timer);
          const i = waiters.indexOf(done);
          if (i >= 0) waiters.splice(i, 1);
          resolve();
        }
        waiters.push(done);
      });
    }
  }

  /** Assert nothing about `id` arrives for `ms`. */
  async nothingAbout(id, ms) {
    await sleep(ms);
    return this.about(id);
  }
}
