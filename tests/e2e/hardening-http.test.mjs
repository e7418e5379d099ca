// The HTTP edge: which pages (Origin) and Host names may reach Socket.IO, the demo
// page's security headers, and /metrics on a listener of its own.

import assert from 'node:assert/strict';
import http from 'node:http';
import { before, after } from 'node:test';
import WebSocket from 'ws';
import { Server, test } from './harness.mjs';

const WS_PATH = '/socket.io/?EIO=4&transport=websocket';
const POLL_PATH = '/socket.io/?EIO=4&transport=polling';

/**
 * Opens a raw WebSocket with these headers. Resolves with {open: true, first} (the
 * engine.io open packet) or {open: false, status, body} when the upgrade was refused.
 */
function websocket(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}${WS_PATH}`, { headers });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no answer to the WebSocket upgrade within 5000 ms'));
    }, 5000);
    ws.on('error', () => {});
    ws.once('message', (data) => {
      clearTimeout(timer);
      ws.close();
      resolve({ open: true, first: data.toString() });
    });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ open: false, status: res.statusCode, body });
      });
    });
  });
}

/** A plain HTTP GET with these headers (Host included, which fetch cannot set). */
function get(url, path, headers = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const trusting = new Server();
const withOrigins = new Server({ args: ['--allowed-origins', 'https://app.example, https://other.example'] });
const withMetricsListener = new Server({ args: ['--metrics-listen', '127.0.0.1:0'] });
const servers = [trusting, withOrigins, withMetricsListener];
before(async () => {
  for (const s of servers) await s.start();
});
after(async () => {
  for (const s of servers) await s.stop();
});

test('trust mode: a WebSocket from another site is refused; without Origin or from the server itself it opens', async () => {
  const evil = await websocket(trusting.url, { Origin: 'https://evil.example' });
  assert.equal(evil.open, false);
  assert.equal(evil.status, 403);
  assert.match(evil.body, /origin/);

  const plain = await websocket(trusting.url);
  assert.equal(plain.open, true);
  assert.match(plain.first, /^0\{"sid":/);

  const own = await websocket(trusting.url, { Origin: trusting.url });
  assert.equal(own.open, true, JSON.stringify(own));
  const local = await websocket(trusting.url, { Origin: 'http://localhost:5173' });
  assert.equal(local.open, true, JSON.stringify(local));
});

test('trust mode: a rebound Host is refused, polling or WebSocket; loopback names pass', async () => {
  const rebound = await get(trusting.url, POLL_PATH, { Host: 'evil.example' });
  assert.equal(rebound.status, 403);
  assert.match(rebound.body, /Host/);
  const reboundWithPort = await get(trusting.url, POLL_PATH, { Host: `evil.example:${new URL(trusting.url).port}`, Origin: `http://evil.example:${new URL(trusting.url).port}` });
  assert.equal(reboundWithPort.status, 403);
  const ws = await websocket(trusting.url, { Host: 'evil.example' });
  assert.equal(ws.status, 403);

  for (const host of [new URL(trusting.url).host, `localhost:${new URL(trusting.url).port}`]) {
    const ok = await get(trusting.url, POLL_PATH, { Host: host });
    assert.equal(ok.status, 200, host);
    assert.match(ok.body, /^0\{"sid":/);
  }
  // The application's other routes are not guarded.
  assert.equal((await get(trusting.url, '/healthz', { Host: 'evil.example' })).status, 200);
});

test('--allowed-origins: listed origins connect, others are still refused', async () => {
  for (const origin of ['https://app.example', 'https://other.example']) {
    const listed = await websocket(withOrigins.url, { Origin: origin });
    assert.equal(listed.open, true, `${origin}: ${JSON.stringify(listed)}`);
  }
  const polled = await get(withOrigins.url, POLL_PATH, { Origin: 'https://app.example' });
  assert.equal(polled.status, 200);
  const evil = await websocket(withOrigins.url, { Origin: 'https://evil.example' });
  assert.equal(evil.status, 403);
  const plain = await websocket(withOrigins.url);
  assert.equal(plain.open, true);
});

test('the demo page is served with a Content-Security-Policy and no-sniff, no-referrer headers', async () => {
  const res = await fetch(`${trusting.url}/`);
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy');
  assert.ok(csp, 'Content-Security-Policy header');
  for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"]) {
    assert.ok(csp.includes(directive), `${directive} in ${csp}`);
  }
  assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), csp);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  // Nothing inline the policy would block.
  const html = await res.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
});

test('--metrics-listen: /metrics is served there and not on the main listener', async () => {
  const m = /chatzz metrics on (http:\/\/\S+)\/metrics/.exec(withMetricsListener.output);
  assert.ok(m, `metrics address printed:\n${withMetricsListener.output}`);
  const metricsUrl = m[1];
  assert.notEqual(metricsUrl, withMetricsListener.url);
  const res = await fetch(`${metricsUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /chatzz_users_online/);
  assert.equal((await fetch(`${withMetricsListener.url}/metrics`)).status, 404);
  // The default keeps /metrics on the main listener.
  assert.equal((await fetch(`${trusting.url}/metrics`)).status, 200);
});
