#!/usr/bin/env bash
# The main job: builds the binaries and (once the node runtime lands) starts a local 3-node cluster.
# Today it installs prerequisites, builds `mpcium` and `mpcium-cli` in release mode and shows the
# operator CLI's help.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh >/dev/null
echo "local-cluster: building mpcium and mpcium-cli (release; the first build compiles GMP and takes a few minutes)"
cargo build --release --locked -p mpcium-node -p mpcium-cli
./target/release/mpcium-cli --version
./target/release/mpcium-cli --help
