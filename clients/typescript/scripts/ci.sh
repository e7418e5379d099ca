#!/usr/bin/env bash
# CI of the @chatzz/client package: clean install, build, unit tests, integration tests
# against a real chatzz server (CHATZZ_BIN, default: the repository's debug build; they
# also validate what it sends against docs/asyncapi.yaml), the AsyncAPI document check
# and the npm pack check.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${CHATZZ_BIN:=$PWD/../../target/debug/chatzz}"
if [ ! -x "$CHATZZ_BIN" ]; then
  echo "chatzz binary not found at $CHATZZ_BIN: build it (cargo build -p chatzz-server) or set CHATZZ_BIN" >&2
  exit 1
fi
export CHATZZ_BIN

step() { printf '\n--> %s\n' "$*"; }

step "npm ci"
# No package here needs an install script (one dependency of @asyncapi/parser has a
# telemetry one): skip them all.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

step "build (tsc: ESM, CommonJS, declarations) and type checks of the public API"
npm run --silent build
npm run --silent typecheck
node scripts/bundle-demo.mjs --check # crates/chatzz-server/assets/chatzz-client.js matches this build

step "unit tests (fake socket)"
node --test test/unit/

step "integration tests (chatzz at $CHATZZ_BIN, memory and SQLite stores)"
node --test --test-concurrency=1 test/integration/

step "docs/asyncapi.yaml: valid AsyncAPI 3.0 (@asyncapi/parser), same event names and payload keys as the package"
node --test test/asyncapi/

step "npm pack check"
node --test test/pack/
