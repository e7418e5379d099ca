# chatzz developer recipes. `just --list` shows them.

# Run the server on the default store.
run *ARGS:
    cargo run --release -- {{ARGS}}

# Every test, as CI runs it (installs what it needs).
test:
    scripts/test-all

# Unit and integration tests of the Rust crates only.
unit:
    cargo test --workspace --all-features

# End-to-end tests against a debug build.
e2e:
    cargo build -p chatzz-server
    cd tests && CHATZZ_BIN=../target/debug/chatzz node --test --test-concurrency=1 e2e/

# Browser test of the demo page.
browser:
    cargo build -p chatzz-server
    cd tests && CHATZZ_BIN=../target/debug/chatzz node --test --test-concurrency=1 browser/

# Format and lint.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --all-features -- -D warnings
