// Which store the server under test runs on: CHATZZ_E2E_STORE = memory (default),
// sqlite, postgres or mongodb. Each server gets a fresh, empty database of its own,
// removed when it stops.
//
//   CHATZZ_TEST_POSTGRES_URL  admin URL (default postgres://postgres@127.0.0.1:5432/postgres)
//   CHATZZ_TEST_MONGODB_URL   server URL (default mongodb://127.0.0.1:27017)

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const STORE = process.env.CHATZZ_E2E_STORE || 'memory';

const POSTGRES_ADMIN = process.env.CHATZZ_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const MONGODB = (process.env.CHATZZ_TEST_MONGODB_URL || 'mongodb://127.0.0.1:27017').replace(/\/+$/, '');

let counter = 0;
const uniqueName = () => `chatzz_e2e_${process.pid}_${Date.now()}_${(counter += 1)}`;

function psql(sql) {
  execFileSync('psql', [POSTGRES_ADMIN, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A fresh database for one server: `{ url, cleanup() }`. */
export function freshDatabase() {
  switch (STORE) {
    case 'memory':
      return { url: 'memory:', cleanup() {} };
    case 'sqlite': {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatzz-e2e-'));
      return {
        url: `sqlite://${path.join(dir, 'chatzz.db')}`,
        cleanup() {
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    case 'postgres': {
      const name = uniqueName();
      psql(`CREATE DATABASE ${name}`);
      const url = new URL(POSTGRES_ADMIN);
      url.pathname = `/${name}`;
      return {
        url: url.toString(),
        cleanup() {
          psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        },
      };
    }
    case 'mongodb':
      // The database appears on first write; the stand-in keeps it in memory.
      return { url: `${MONGODB}/${uniqueName()}`, cleanup() {} };
    default:
      throw new Error(`CHATZZ_E2E_STORE=${STORE}: expected memory, sqlite, postgres or mongodb`);
  }
}
