# chatzz developer recipes. `just --list` shows them.

# Run the server on the default store.
run *ARGS:
    cargo run --release -- {{ARGS}}

# Every test, as CI runs it (the README's test command; installs what it needs).
test:
    scripts/test-all

# Start what the tests need if it is not running: PostgreSQL, Redis, MongoDB stand-in.
services:
    scripts/services

# The quick loop, no service needed: core, memory and SQLite stores, transport, facade.
fast:
    cargo test -p chatzz-core --all-features -p chatzz-service-tests -p chatzz-store-memory -p chatzz-store-sqlite -p chatzz-store-sql -p chatzz-socketio -p chatzz -p chatzz-server

# Unit and integration tests of every crate, on the real databases (starts them).
unit: services
    cargo test --workspace --all-features

# End-to-end tests on a debug build: `just e2e`, `just e2e store=postgres [FILES...]`.
e2e *ARGS: services
    #!/usr/bin/env bash
    set -euo pipefail
    store=memory
    files=()
    for arg in {{ARGS}}; do
        case "$arg" in
            store=*) store="${arg#store=}" ;;
            *) files+=("$arg") ;;
        esac
    done
    [ ${#files[@]} -gt 0 ] || files=(e2e/)
    cargo build -p chatzz-server --all-features
    cd tests
    [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
    CHATZZ_E2E_STORE="$store" CHATZZ_BIN=../target/debug/chatzz node --test --test-concurrency=1 "${files[@]}"

# Browser test of the demo page (needs Debian's chromium: `apt-get install chromium`).
browser:
    cargo build -p chatzz-server --all-features
    cd tests && CHATZZ_BIN=../target/debug/chatzz node --test --test-concurrency=1 browser/

# Format and lint.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --all-features -- -D warnings

# cargo-fuzz (libFuzzer) on the stable toolchain, installed if missing: with
# `--sanitizer none` cargo-fuzz passes only stable rustc flags (sancov instrumentation,
# --cfg fuzzing, debug assertions and overflow checks), and chatzz forbids unsafe code, so
# libFuzzer's panic, hang (-timeout) and memory (-rss_limit_mb) checks are what matter.
# FUZZ_SANITIZER=address adds AddressSanitizer, whose -Zsanitizer flag stable rustc takes
# only under RUSTC_BOOTSTRAP=1 (set here then). Crashes land in fuzz/artifacts/TARGET/;
# fuzz/README.md says how to reproduce and minimize them.
#
# Fuzz every target in fuzz/ for SECONDS each (`just fuzz 300`); not part of CI.
fuzz SECONDS="60":
    #!/usr/bin/env bash
    set -euo pipefail
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    sanitizer="${FUZZ_SANITIZER:-none}"
    # Each sanitizer builds into its own folder: switching would otherwise rebuild it all.
    opts=(--sanitizer "$sanitizer")
    if [ "$sanitizer" != none ]; then
        export RUSTC_BOOTSTRAP=1
        opts+=(--target-dir "target/$sanitizer")
    fi
    cd fuzz
    cargo fuzz build "${opts[@]}"
    failed=()
    for target in $(cargo fuzz list); do
        echo "== fuzz $target for {{SECONDS}} s (sanitizer: $sanitizer)"
        dict=()
        if [ -f "dicts/$target.dict" ]; then dict=("-dict=dicts/$target.dict"); fi
        cargo fuzz run "${opts[@]}" "$target" -- \
            -max_total_time={{SECONDS}} -timeout=10 -print_final_stats=1 "${dict[@]}" \
            || failed+=("$target")
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "fuzz: crashes in ${failed[*]}: see fuzz/artifacts/" >&2
        exit 1
    fi
    echo "fuzz: no crash in $(cargo fuzz list | wc -l) targets, {{SECONDS}} s each"

# How `just bench` works: a short standard load run against a fresh release server, on
# the memory store unless a store URL is given (sqlite://bench.db ...); docs/benchmarks.md.
#
# A standard load run: `just bench [RATE] [SECONDS] [STORE_URL]`, printing the tool's table.
bench rate="3000" duration="10" store="memory:":
    cargo build --release -p chatzz-server --all-features
    cargo build --release -p chatzz-bench
    scripts/bench "{{rate}}" "{{duration}}" "{{store}}"

# connect-user latency with a large inbox: a user with 10 and one with 1,000 contacts,
# with no, 20,000 and 1,000,000 stored messages, on SQLite and PostgreSQL (the database
# `bench_inbox` on 127.0.0.1:5432 is dropped and made again); docs/benchmarks.md.
# `just bench-inbox [STORE_URL...]`; INBOX_HISTORY, INBOX_RUNS... in scripts/bench-inbox.
bench-inbox *STORES:
    cargo build --release -p chatzz-server --all-features
    scripts/bench-inbox {{STORES}}
