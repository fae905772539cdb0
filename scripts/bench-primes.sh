#!/usr/bin/env bash
# Signing latency while the nodes replace their safe primes (right after a fresh local cluster's
# aux-info run) and once they are done: Ed25519 and ECDSA at concurrency 1, one JSON line per run.
#
#   scripts/bench-primes.sh [label]      about 5 minutes on 2 cores, plus a first release build
#   REQUESTS_EDDSA=200 REQUESTS_ECDSA=4  the defaults
#
# It starts (and leaves running) `scripts/local-cluster.sh`; stop it with `scripts/local-cluster.sh down`.
set -euo pipefail
cd "$(dirname "$0")/.."
LABEL=${1:-run}
EDDSA=${REQUESTS_EDDSA:-200}
ECDSA=${REQUESTS_ECDSA:-4}
D=.local-cluster
say() { printf '[bench-primes] %s\n' "$*" >&2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

scripts/local-cluster.sh down >/dev/null 2>&1 || true
say "starting a fresh local cluster (its demo runs the aux-info run after which the nodes replace their primes)"
scripts/local-cluster.sh >"$TMP/local-cluster.log" 2>&1 || { cat "$TMP/local-cluster.log" >&2; exit 1; }
NATS=$(python3 -c 'import json,sys,glob; print(json.load(open(glob.glob(sys.argv[1])[0]))["nats"][0])' "$D/nats-server_*.ports")
bench() {
  target/release/mpcium-cli benchmark "$@" --json --nats "$NATS" \
    --key "$D/setup/initiator_private.key.age" --password-file "$D/secrets/initiator.pass"
}
# "safe primes ready elapsed_s=..." lines per node: 1 after start-up, 2 once the replacement is done.
replaced() {
  for i in 0 1 2; do sed -e 's/\x1b\[[0-9;]*m//g' "$D/node$i/node.log" | grep -c "safe primes ready elapsed" || true; done | paste -sd' '
}
line() { # label phase mode < benchmark JSON
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"label":sys.argv[1],"phase":sys.argv[2],"mode":sys.argv[3],"ok":d["ok"],"failed":d["failed"],"p50_ms":d["p50_ms"],"per_s":d["throughput_per_s"]}))' "$@"
}
CREATED=$TMP/created.err
say "while replacing (generations done per node: $(replaced))"
bench sign-eddsa --requests "$EDDSA" --concurrency 1 2>/dev/null | line "$LABEL" replacing eddsa-c1
bench sign-ecdsa --requests "$ECDSA" --concurrency 1 2>"$CREATED" | line "$LABEL" replacing ecdsa-c1
say "generations done per node: $(replaced); waiting for 2 2 2"
deadline=$((SECONDS + 900))
until [ "$(replaced)" = "2 2 2" ]; do
  [ $SECONDS -lt $deadline ] || { say "the nodes did not replace their primes within 15 minutes"; exit 1; }
  sleep 2
done
WALLET=$(sed -n 's/.*reuse with \(--wallet .*\))$/\1/p' "$CREATED")
# shellcheck disable=SC2086 # WALLET is the flags the benchmark printed.
bench sign-eddsa --requests "$EDDSA" --concurrency 1 $WALLET 2>/dev/null | line "$LABEL" after eddsa-c1
# shellcheck disable=SC2086
bench sign-ecdsa --requests "$ECDSA" --concurrency 1 $WALLET 2>/dev/null | line "$LABEL" after ecdsa-c1
