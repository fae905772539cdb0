#!/usr/bin/env bash
# The main job: a real local mpcium cluster from a fresh checkout.
#
#   scripts/local-cluster.sh        build, start nats-server + 3 nodes (2-of-3), run the demo,
#                                   and leave the cluster running
#   scripts/local-cluster.sh down   stop a cluster started here
#   PROFILE=debug scripts/local-cluster.sh   the same with debug binaries (no release build)
#   HOT_WALLETS=w1,w2 POOL_DEPTH=64 scripts/local-cluster.sh
#                                   keep presignature pools of these wallets filled (message-mode
#                                   ECDSA; default: none, depth 8)
#
# Each node serves /health and /metrics on a free loopback port, written to node<i>/health.url.
# Everything lives in .local-cluster/ (git-ignored): the operator files made with mpcium-cli
# (peers, encrypted identities, encrypted initiator key), one directory per node, and logs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DIR="$ROOT/.local-cluster"
PROFILE="${PROFILE:-release}"
BIN="$ROOT/target/$PROFILE"
if [ "$PROFILE" = release ]; then BUILD_FLAGS=(--release); else BUILD_FLAGS=(); fi

say() { printf '\033[1m[local-cluster]\033[0m %s\n' "$*"; }

stop_cluster() {
  [ -d "$DIR" ] || return 0
  for pidfile in "$DIR"/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

if [ "${1:-}" = "down" ]; then
  stop_cluster
  say "cluster stopped (files kept in $DIR)"
  exit 0
fi

# Wait until FILE contains PATTERN, or fail after SECONDS, showing the log's tail.
wait_for_log() {
  local file=$1 pattern=$2 seconds=$3 what=$4
  local deadline=$((SECONDS + seconds))
  until grep -q -- "$pattern" "$file" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      say "timed out waiting for $what; last lines of $file:"
      tail -n 20 "$file" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
}

NATS_SERVER="$(scripts/setup.sh | tail -n 1)"
say "building mpcium, mpcium-cli and the demo client ($PROFILE; the first build compiles GMP: several minutes)"
cargo build "${BUILD_FLAGS[@]}" --locked -p mpcium-node -p mpcium-cli
cargo build "${BUILD_FLAGS[@]}" --locked -p mpcium-client --example demo

stop_cluster
rm -rf "$DIR"
mkdir -p "$DIR/nats" "$DIR/secrets" "$DIR/setup"
chmod 700 "$DIR/secrets"

say "starting nats-server with JetStream"
"$NATS_SERVER" -a 127.0.0.1 -p -1 -m -1 -js -sd "$DIR/nats" --ports_file_dir "$DIR" >"$DIR/nats.log" 2>&1 &
echo $! >"$DIR/nats.pid"
deadline=$((SECONDS + 20))
until ls "$DIR"/nats-server_*.ports >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || { say "nats-server did not start"; tail "$DIR/nats.log"; exit 1; }
  sleep 0.1
done
NATS_URL=$(python3 -c 'import json,sys,glob; print(json.load(open(glob.glob(sys.argv[1])[0]))["nats"][0])' "$DIR/nats-server_*.ports")
say "nats-server at $NATS_URL"

random_secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(24) + "!")'; }
random_secret >"$DIR/secrets/initiator.pass"
random_secret >"$DIR/secrets/identity.pass"
random_secret >"$DIR/secrets/db.pass"
chmod 600 "$DIR"/secrets/*

say "generating operator files with mpcium-cli (as in the deployment guide)"
cd "$DIR/setup"
"$BIN/mpcium-cli" generate-peers -n 3
"$BIN/mpcium-cli" generate-initiator --encrypt --password-file "$DIR/secrets/initiator.pass" >/dev/null
for i in 0 1 2; do
  "$BIN/mpcium-cli" generate-identity --node "node$i" --peers ./peers.json \
    --output-dir "./identity/node$i" --encrypt --password-file "$DIR/secrets/identity.pass" >/dev/null
done
INITIATOR_PUBKEY=$(python3 -c 'import json; print(json.load(open("initiator_identity.json"))["public_key"])')
CHAIN_CODE=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
cat >config.yaml <<EOF
environment: development
db_path: ./db
backup_dir: ./backups
backup_enabled: false
registry: nats
nats:
  url: $NATS_URL
consul:
  address: localhost:8500
mpc_threshold: 2
event_initiator_pubkey: "$INITIATOR_PUBKEY"
event_initiator_algorithm: "ed25519"
chain_code: "$CHAIN_CODE"
max_concurrent_keygen: 2
max_concurrent_signing: 10
presignatures:
  hot_wallets: [${HOT_WALLETS:-}]
  target_depth: ${POOL_DEPTH:-8}
EOF
"$BIN/mpcium-cli" register-peers --peers ./peers.json --config ./config.yaml

for i in 0 1 2; do
  node="$DIR/node$i"
  mkdir -p "$node"
  cp config.yaml peers.json "$node/"
  cp -r "identity/node$i" "$node/identity"
  health=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print("127.0.0.1:%d" % s.getsockname()[1])')
  echo "http://$health" >"$node/health.url"
  (
    cd "$node"
    export HEALTHCHECK_ENABLED=true HEALTHCHECK_ADDRESS="$health"
    exec "$BIN/mpcium" start --name "node$i" --config config.yaml \
      --password-file "$DIR/secrets/db.pass" \
      --identity-password-file "$DIR/secrets/identity.pass" --decrypt-private-key
  ) >"$node/node.log" 2>&1 &
  echo $! >"$DIR/node$i.pid"
done
cd "$ROOT"

for i in 0 1 2; do wait_for_log "$DIR/node$i/node.log" "Node is ready" 60 "node$i to become ready"; done
say "all 3 nodes are ready; preparing ECDSA parameters (safe primes, then aux info: 1-3 minutes on 2 cores)"
for i in 0 1 2; do
  wait_for_log "$DIR/node$i/node.log" "aux info ready" 600 "node$i's ECDSA aux info"
  say "node$i: aux info ready"
done

say "running the demo client"
"$BIN/examples/demo" --nats "$NATS_URL" --key "$DIR/setup/initiator_private.key.age" \
  --password-file "$DIR/secrets/initiator.pass" --chain-code "$CHAIN_CODE" \
  --peers "$DIR/setup/peers.json" --threshold 2

say "the cluster is still running: nats at $NATS_URL, logs in $DIR/node*/node.log"
say "health and metrics: $(cat "$DIR"/node*/health.url | tr '\n' ' ')"
say "stop it with: scripts/local-cluster.sh down"
