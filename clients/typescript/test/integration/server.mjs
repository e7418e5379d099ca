// Starts a real chatzz server (CHATZZ_BIN) for the integration tests, as the repository's
// end-to-end harness does (tests/e2e/harness.mjs), but on a port chosen here, so that a
// restarted server comes back at the same address with the same SQLite file.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CHATZZ_BIN = process.env.CHATZZ_BIN
  ? path.resolve(process.env.CHATZZ_BIN)
  : path.resolve(HERE, '../../../../target/debug/chatzz');

/** The stores the integration tests run on. */
export const STORES = ['memory', 'sqlite'];

/** A database for one test: `{url, cleanup()}`; the SQLite file outlives restarts of its server. */
export function database(store) {
  if (store === 'memory') return { url: 'memory:', cleanup() {} };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatzz-client-'));
  return { url: `sqlite://${path.join(dir, 'chatzz.db')}`, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export class ChatzzServer {
  /** `args`: extra flags for the server. */
  constructor(db, { args = [] } = {}) {
    this.db = db;
    this.args = args;
    this.port = undefined;
    this.child = undefined;
    this.output = '';
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts, at the same port and database) the server. */
  async start() {
    if (!fs.existsSync(CHATZZ_BIN)) throw new Error(`chatzz binary not found at ${CHATZZ_BIN}: set CHATZZ_BIN`);
    this.port ??= await freePort();
    // The tests send bursts beyond a person's pace: no send rate limit.
    const args = ['--listen', `127.0.0.1:${this.port}`, '--database', this.db.url, '--send-rate', '0', ...this.args];
    const child = spawn(CHATZZ_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    child.stderr.on('data', (c) => (this.output = (this.output + c).slice(-64 * 1024)));
    await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`chatzz did not start within 15 s\n${this.output}`)), 15000);
      child.stdout.on('data', (chunk) => {
        buf += chunk;
        if (buf.includes('chatzz listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`chatzz exited (${code}) before listening\n${this.output}`));
      });
    });
    return this;
  }

  /** Stops the server: SIGTERM (graceful) or SIGKILL (no flushing, no goodbye). */
  async stop(signal = 'SIGTERM') {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    await this.exited;
  }
}

let counter = 0;
const RUN = Math.random().toString(36).slice(2, 8);
export const uid = (prefix) => `${prefix}-${RUN}-${(counter += 1)}`;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond()` holds, or fails after `ms` with `what`. */
export async function until(cond, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** socket.io-client options for tests: WebSocket only, quick reconnects. */
export const FAST_RECONNECT = {
  transports: ['websocket'],
  forceNew: true,
  reconnectionDelay: 50,
  reconnectionDelayMax: 250,
};
