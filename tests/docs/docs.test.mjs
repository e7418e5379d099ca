// The docs say what the code does: every relative link and every repository path they
// name exists, none leaves the repository, and every error message they quote is one
// the code can print. Runs without a server: `node --test docs/`.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function walk(dir, keep, out = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    // vendor/ holds published crates' own docs, not ours.
    if (['node_modules', 'target', '.git', 'artifacts', 'corpus', 'vendor'].includes(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, keep, out);
    else if (keep(entry.name)) out.push(full);
  }
  return out;
}

const DOCS = walk(ROOT, (name) => name.endsWith('.md'));
const SOURCES = walk(path.join(ROOT, 'crates'), (name) => name.endsWith('.rs'));
const SOURCE_TEXT = SOURCES.map((f) => fs.readFileSync(f, 'utf8')).join('\n');

/** Markdown without fenced code blocks, which hold examples, not claims about files. */
function prose(file) {
  return fs.readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
}

const rel = (file) => path.relative(ROOT, file);

test('every relative link in the docs points at a file of the repository', () => {
  const broken = [];
  for (const doc of DOCS) {
    for (const [, target] of prose(doc).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?:|mailto:|#)/.test(target)) continue;
      const file = path.resolve(path.dirname(doc), decodeURI(target.split('#')[0]));
      if (!file.startsWith(ROOT + path.sep)) broken.push(`${rel(doc)}: ${target} leaves the repository`);
      else if (!fs.existsSync(file)) broken.push(`${rel(doc)}: ${target} does not exist`);
    }
  }
  assert.deepEqual(broken, []);
});

test('every repository path the docs name exists, and none points outside', () => {
  const broken = [];
  for (const doc of DOCS) {
    const text = prose(doc);
    for (const [, span] of text.matchAll(/`([^`\n]+)`/g)) {
      if (/(^|\s|\()\.\.\/|\/work\/|^seed\//.test(span)) broken.push(`${rel(doc)}: \`${span}\` points outside the repository`);
      const m = /^((?:crates|docs|tests|scripts|fuzz)\/[\w./-]+?)(?::\d+)?$/.exec(span);
      if (!m || /[*{]|\.\.\./.test(m[1])) continue;
      if (!fs.existsSync(path.join(ROOT, m[1]))) broken.push(`${rel(doc)}: \`${span}\` does not exist`);
    }
  }
  assert.deepEqual(broken, []);
});

// An error message quoted in the docs: a code span that reads as a sentence about what
// went wrong. Each literal piece (split at `...` and format placeholders) must occur in
// the Rust sources.
const ERROR_WORDS = /\b(must|cannot|refus\w*|unsupported|expected|not valid|too many|unusable|lacks|has expired|is invalid)\b/;

test('every error message the docs quote is printed by the code', () => {
  const stale = [];
  for (const doc of DOCS) {
    for (const [, raw] of prose(doc).matchAll(/`([^`]+)`/g)) {
      const span = raw.replace(/\s+/g, ' ');
      if (span.length < 16 || !ERROR_WORDS.test(span) || span.split(/\s+/).length < 4) continue;
      stale.push(...missingPieces(doc, span));
    }
    // The binary's own error lines, quoted as output (`chatzz: ...`).
    for (const [, line] of fs.readFileSync(doc, 'utf8').matchAll(/^ {4}chatzz: (.+)$/gm)) {
      stale.push(...missingPieces(doc, line.replace(/`[^`]*`/g, '"x"')));
    }
  }
  assert.deepEqual(stale, []);
});

function missingPieces(doc, span) {
  return span
    .replace(/^(connect_error: )?(unauthorized|chatzz|error): /, '')
    .split(/\.\.\.|…|\{[^}]*\}|<[^>]*>|"[^"]*"/)
    .map((p) => p.trim())
    .filter((p) => p.length >= 12 && !SOURCE_TEXT.includes(p))
    .map((p) => `${rel(doc)}: "${p}" (from \`${span}\`) is in no source file`);
}
