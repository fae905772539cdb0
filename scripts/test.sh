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

# cargo-nextest (on the project's machines) runs the test binaries side by side, which the
# end-to-end tests, mostly waiting on clusters, make good use of (.config/nextest.toml); doctests
# run apart. Without it, cargo test runs the same tests one binary at a time.
if cargo nextest --version >/dev/null 2>&1; then
  echo "test: cargo nextest run (profile ci: .config/nextest.toml) and the doctests"
  cargo nextest run --workspace --locked --profile ci --no-tests=warn
  cargo test --workspace --locked --doc
else
  echo "test: cargo test (cargo-nextest not found)"
  cargo test --workspace --locked
fi

echo "test: deployment checks (scripts/check-deploy.sh: yamllint, Helm render, schemas, pod policies, image)"
scripts/check-deploy.sh
