// `npm pack` holds what the exports map points at (both builds, their types) and none
// of the tests or dependencies.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('npm pack --dry-run includes the builds, the types and the README', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  const [info] = JSON.parse(out);
  const files = new Set(info.files.map((f) => f.path));
  assert.equal(info.name, '@chatzz/client');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const exported = JSON.stringify(pkg.exports).match(/\.\/dist\/[^"]+/g).map((p) => p.slice(2));
  for (const f of [...exported, 'dist/cjs/package.json', 'README.md', 'package.json']) {
    assert.ok(files.has(f), `${f} must be in the package`);
  }
  for (const f of files) {
    assert.ok(/^(dist|src)\/|^(README\.md|package\.json|LICENSE)$/.test(f), `${f} should not be in the package`);
  }
  assert.ok([...files].some((f) => f.startsWith('dist/esm/') && f.endsWith('.d.ts')));
  assert.equal(JSON.parse(fs.readFileSync(path.join(ROOT, 'dist/cjs/package.json'), 'utf8')).type, 'commonjs');
});

test('the package depends on nothing at run time but its socket.io-client peer', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.dependencies, undefined);
  assert.deepEqual(Object.keys(pkg.peerDependencies), ['socket.io-client']);
});
