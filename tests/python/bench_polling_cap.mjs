// What the cap on packets per long-polling response (--max-polling-packets) costs: a
// polling client receives a burst of messages sent at once by a WebSocket client; this
// counts the receiver's GET requests and times the burst, from the first send to the
// last message received, with the cap and without one.
//
//   node tests/python/bench_polling_cap.mjs [MESSAGES] [RUNS] [CAP...]
//
// Defaults: 500 messages, 5 runs, caps 16 and 1000000 (none in practice). CHATZZ_BIN
// names the server binary (default target/release/chatzz, else target/debug/chatzz).
// A fresh server per cap: --database memory: --send-rate 0 --max-queued-events 1024 (the
// whole burst is in flight at once; the default lets 64 wait per connection).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const BIN =
  process.env.CHATZZ_BIN ??
  [path.join(ROOT, 'target/release/chatzz'), path.join(ROOT, 'target/debug/chatzz')].find((p) => fs.existsSync(p));
const [messages = 500, runs = 5, ...caps] = process.argv.slice(2).map(Number);
if (caps.length === 0) caps.push(16, 1_000_000);

function startServer(cap) {
  const args = ['--listen', '127.0.0.1:0', '--database', 'memory:', '--send-rate', '0', '--max-queued-events', '1024', '--max-polling-packets', String(cap)];
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (chunk) => {
      buf += chunk;
      const m = /chatzz listening on (http:\/\/\S+)/.exec(buf);
      if (m) resolve({ child, url: m[1].replace(/\/$/, '') });
    });
    child.once('exit', (code) => reject(new Error(`chatzz exited (${code})`)));
  });
}

function connect(url, transport) {
  const socket = io(url, { transports: [transport], forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

function ack(socket, event, data) {
  return new Promise((resolve, reject) =>
    socket.emit(event, data, (err, res) => (err ? reject(new Error(JSON.stringify(err))) : resolve(res))),
  );
}

async function run(url, n) {
  const id = Math.random().toString(36).slice(2, 8);
  const a = `sender-${id}`;
  const b = `receiver-${id}`;
  const sa = await connect(url, 'websocket');
  const sb = await connect(url, 'polling');
  await ack(sa, 'connect-user', { userId: a });
  await ack(sb, 'connect-user', { userId: b });
  await ack(sa, 'add-chat-user', { userToAdd: b });
  await new Promise((r) => setTimeout(r, 200)); // let chat-user-added arrive
  let polls = 0;
  sb.io.engine.transport.on('poll', () => (polls += 1));
  let disconnected = false;
  sb.on('disconnect', () => (disconnected = true));
  const done = new Promise((resolve) => {
    let received = 0;
    sb.on('chatzz', (e) => {
      if (e.type === 'new-message' && ++received === n) resolve();
    });
  });
  const start = process.hrtime.bigint();
  const acks = [];
  for (let i = 0; i < n; i++) acks.push(ack(sa, 'send-message', { userId: b, message: `burst ${i}` }));
  await Promise.all([done, ...acks]);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (disconnected) throw new Error('the polling client was disconnected');
  sa.close();
  sb.close();
  return { ms, polls };
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

console.log(`binary ${BIN}; ${messages} messages, ${runs} runs per cap (plus one warm-up)`);
console.log('| cap | polls (median) | burst time, ms (median) | burst times, ms |');
console.log('|---|---|---|---|');
for (const cap of caps) {
  const { child, url } = await startServer(cap);
  try {
    await run(url, messages); // warm-up
    const results = [];
    for (let i = 0; i < runs; i++) results.push(await run(url, messages));
    const times = results.map((r) => r.ms);
    console.log(
      `| ${cap} | ${median(results.map((r) => r.polls))} | ${median(times).toFixed(1)} | ${times.map((t) => t.toFixed(0)).join(', ')} |`,
    );
  } finally {
    child.kill('SIGTERM');
  }
}
