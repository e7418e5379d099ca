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

# VENDOR_CRATES picks which (default both); CI runs engineioxide's, where the changes
# and their tests are (socketioxide's one setter is exercised end to end by the Python
# polling tests).
for crate in ${VENDOR_CRATES:-engineioxide socketioxide}; do
  echo "==> $crate"
  (cd "$work/$crate" && cargo test --all-features "$@")
done
