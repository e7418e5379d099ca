// Bundles the package's ESM build (dist/esm, from `npm run build`) for the demo page the
// chatzz binary serves: one IIFE, crates/chatzz-server/assets/chatzz-client.js, which
// defines the global `chatzz` (ChatzzClient, ConversationState, ...). socket.io-client
// is not in it: the page loads the library's own browser build first
// (/assets/socket.io.min.js, the global `io`), and the bundle's `io` calls that global.
// The bundle is checked in (the Rust build embeds it and must not need Node):
//
//   node scripts/bundle-demo.mjs           writes it
//   node scripts/bundle-demo.mjs --check   rebuilds it to a temp file, fails if it differs
//
// esbuild's output is deterministic for one esbuild version (pinned in package.json).
import { build } from 'esbuild';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.resolve(root, '../../crates/chatzz-server/assets/chatzz-client.js');
const entry = path.join(root, 'dist/esm/index.js');
const check = process.argv.includes('--check');

if (!fs.existsSync(entry)) {
  console.error(`${entry} is missing: run \`npm run build\` first`);
  process.exit(1);
}
const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

/** `import { io } from 'socket.io-client'` becomes the page's global `io`, looked up at call time. */
const socketIoGlobal = {
  name: 'socket.io-client-global',
  setup(b) {
    b.onResolve({ filter: /^socket\.io-client$/ }, () => ({ path: 'socket.io-client', namespace: 'global-io' }));
    b.onLoad({ filter: /.*/, namespace: 'global-io' }, () => ({
      contents:
        'export function io(...args) {\n' +
        "  if (typeof globalThis.io !== 'function') throw new Error('load /assets/socket.io.min.js before chatzz-client.js');\n" +
        '  return globalThis.io(...args);\n' +
        '}\n',
      loader: 'js',
    }));
  },
};

const out = check ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'chatzz-bundle-')), 'chatzz-client.js') : target;
await build({
  entryPoints: [entry],
  outfile: out,
  bundle: true,
  format: 'iife',
  globalName: 'chatzz',
  platform: 'browser',
  target: 'es2020',
  charset: 'utf8',
  legalComments: 'inline',
  sourcemap: false,
  logLevel: 'warning',
  plugins: [socketIoGlobal],
  banner: {
    js:
      `/*! @chatzz/client ${version} (MIT), bundled for the chatzz demo page by\n` +
      ' * clients/typescript/scripts/bundle-demo.mjs: generated, do not edit. It uses the global `io`\n' +
      ' * of /assets/socket.io.min.js (socket.io-client, MIT: socket.io-client.LICENSE). */',
  },
});

if (check) {
  const fresh = fs.readFileSync(out, 'utf8');
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null;
  if (fresh !== current) {
    console.error(
      `${path.relative(process.cwd(), target)} is out of date with the package: ` +
        'run `npm run build && node scripts/bundle-demo.mjs` in clients/typescript and commit the result',
    );
    process.exit(1);
  }
  console.log('demo bundle up to date');
} else {
  console.log(`wrote ${path.relative(process.cwd(), target)}`);
}
