#!/usr/bin/env bash
# Runs the tests of the vendored crates (see README.md). They are not members of the
# workspace, so `cargo test -p engineioxide` refuses them (dev-dependencies of a
# non-member); each is copied to a temporary directory and tested there on its own,
# with the Cargo.lock it was published with, socketioxide against the engineioxide copy.
# CARGO_TARGET_DIR defaults to a directory of its own (not the workspace's target).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${TMPDIR:-/tmp}/chatzz-vendor-target}"

cp -a "$here/engineioxide" "$here/socketioxide" "$work/"
printf '\n[patch.crates-io]\nengineioxide = { path = "../engineioxide" }\n' >>"$work/socketioxide/Cargo.toml"

echo "==> engineioxide"
(cd "$work/engineioxide" && cargo test --all-features "$@")
echo "==> socketioxide"
(cd "$work/socketioxide" && cargo test --all-features "$@")
