#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need (scripts/setup.sh), checks formatting and
# lints, then runs every test of the workspace against real components (nats-server, age, files,
# processes). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

NATS_SERVER_BIN="$(scripts/setup.sh | tail -n 1)"
export NATS_SERVER_BIN
echo "test: using $("$NATS_SERVER_BIN" --version)"

echo "test: cargo fmt --check"
cargo fmt --all -- --check

echo "test: cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "test: cargo test"
cargo test --workspace --locked

echo "test: deployment checks (scripts/check-deploy.sh: yamllint, Helm render, schemas, pod policies, image)"
scripts/check-deploy.sh
