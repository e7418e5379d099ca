// Starts one of the facade's examples (target/debug/examples/NAME) on a free port.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TESTS_DIR } from '../e2e/harness.mjs';

const EXAMPLES_DIR = process.env.CHATZZ_EXAMPLES_DIR
  ? path.resolve(process.env.CHATZZ_EXAMPLES_DIR)
  : path.resolve(TESTS_DIR, '../target/debug/examples');

/** `{ url, stop() }` of a running example, started with extra environment `env`. */
export async function startExample(name, env = {}) {
  const bin = path.join(EXAMPLES_DIR, name);
  if (!fs.existsSync(bin)) throw new Error(`${bin} not found: cargo build -p chatzz --examples --all-features`);
  const child = spawn(bin, [], {
    env: { ...process.env, CHATZZ_EXAMPLE_LISTEN: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 15000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
