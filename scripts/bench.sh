#!/usr/bin/env bash
# Performance in one invocation: the in-process ECDSA floor (crates/tss/examples/floor.rs), then a
# fresh local cluster (scripts/local-cluster.sh: nats-server + 3 nodes, 2-of-3) measured end to end
# with `mpcium-cli benchmark`, then one table with end-to-end / floor ratios.
#
#   scripts/bench.sh              full run (about 15 minutes on 2 cores)
#   FLOOR_RUNS=1 SCALE=0.2 scripts/bench.sh   a quick look (fewer floor runs, fewer requests)
#
# The cluster keeps presignature pools of one wallet (bench-hot, depth POOL_DEPTH, default 64 per
# committee) for the message-mode runs, which come last: the pools are filled first and the
# refills' CPU would otherwise disturb the other runs.
#
# Raw JSON lines go to .local-cluster/bench/{floor,e2e}.jsonl; the cluster is stopped at the end.
# docs/performance.md explains what bounds each number.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DIR="$ROOT/.local-cluster"
BIN="$ROOT/target/release"
FLOOR_RUNS="${FLOOR_RUNS:-3}"
SCALE="${SCALE:-1}"
HOT_WALLET=bench-hot

say() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }
scaled() { python3 -c 'import sys; print(max(1, round(int(sys.argv[1]) * float(sys.argv[2]))))' "$1" "$SCALE"; }

say "building the floor benchmark (release)"
cargo build --release --locked -p mpcium-tss --example floor
OUT=$(mktemp -d)
trap 'scripts/local-cluster.sh down >/dev/null 2>&1 || true; rm -rf "$OUT"' EXIT

say "in-process floor, $FLOOR_RUNS runs (no network; the choice of GMP kernels is on the next line)"
"$BIN/examples/floor" "$FLOOR_RUNS" >"$OUT/floor.jsonl"

POOL_DEPTH="${POOL_DEPTH:-$(scaled 64)}"
say "starting a fresh local cluster"
HOT_WALLETS="$HOT_WALLET" POOL_DEPTH="$POOL_DEPTH" scripts/local-cluster.sh >&2
mkdir -p "$DIR/bench"
cp "$OUT/floor.jsonl" "$DIR/bench/floor.jsonl"
NATS_URL=$(python3 -c 'import json,sys,glob; print(json.load(open(glob.glob(sys.argv[1])[0]))["nats"][0])' "$DIR/nats-server_*.ports")
NODE_IDS=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(",".join(sorted(e["id"] for e in p) if isinstance(p,list) else ",".join(sorted(p.values()))))' "$DIR/setup/peers.json")
grep -h "GMP kernels" "$DIR"/node0/node.log | head -n 1 | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^/[bench] node0: /' >&2 || true

: >"$DIR/bench/e2e.jsonl"
# CPU seconds the three nodes have used so far (utime + stime from /proc).
nodes_cpu() {
  python3 - "$DIR" <<'CPU'
import os, sys
total = 0
for i in range(3):
    pid = open(f"{sys.argv[1]}/node{i}.pid").read().strip()
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    total += int(fields[11]) + int(fields[12])
print(total / os.sysconf("SC_CLK_TCK"))
CPU
}
e2e() {
  local label=$1; shift
  say "end to end: $label"
  local cpu_before; cpu_before=$(nodes_cpu)
  # A failed request makes the exit status non-zero; the summary (with its errors) still counts.
  "$BIN/mpcium-cli" benchmark "$@" --json --nats "$NATS_URL" \
    --key "$DIR/setup/initiator_private.key.age" --password-file "$DIR/secrets/initiator.pass" \
    >"$OUT/run.json" || true
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["label"]=sys.argv[2]; d["node_cpu_s"]=float(sys.argv[4])-float(sys.argv[3]); print(json.dumps(d))' \
    "$OUT/run.json" "$label" "$cpu_before" "$(nodes_cpu)" >>"$DIR/bench/e2e.jsonl"
}
e2e keygen           keygen     --requests "$(scaled 10)"  --concurrency 2
e2e eddsa-c1         sign-eddsa --requests "$(scaled 200)" --concurrency 1
e2e eddsa-c32        sign-eddsa --requests "$(scaled 2000)" --concurrency 32
e2e ecdsa-c1         sign-ecdsa --requests "$(scaled 20)"  --concurrency 1
e2e ecdsa-c4         sign-ecdsa --requests "$(scaled 40)"  --concurrency 4
e2e reshare-ed25519  reshare    --requests "$(scaled 5)"   --concurrency 1 \
  --key-type ed25519 --reshare-nodes "$NODE_IDS" --new-threshold 2

# Message mode from presignatures. The wallet is created (and signed with once) here; its first
# ready holder then fills one pool per committee it belongs to: 2 of the 3 committees of a 2-of-3
# cluster, so it holds 2 x POOL_DEPTH when they are full. Wait for that, then measure.
say "message-mode ECDSA: creating $HOT_WALLET and filling its presignature pools (2 x $POOL_DEPTH)"
"$BIN/mpcium-cli" benchmark sign-ecdsa-message --requests 1 --new-wallet "$HOT_WALLET" --json \
  --nats "$NATS_URL" --key "$DIR/setup/initiator_private.key.age" \
  --password-file "$DIR/secrets/initiator.pass" 2>"$OUT/hot.err" >/dev/null || { cat "$OUT/hot.err" >&2; exit 1; }
HOT_KEYS=$(sed -n 's/.*reuse with \(--wallet .*\))$/\1/p' "$OUT/hot.err")
pool_depth() { # the fullest node's depth for the hot wallet
  for url in $(cat "$DIR"/node*/health.url); do
    curl -fsS "$url/metrics" 2>/dev/null | sed -n "s/^mpcium_presignature_pool_depth{.*wallet_id=\"$HOT_WALLET\".*} \([0-9]*\).*/\1/p" || true
  done | sort -n | tail -n 1
}
# Waits until the fullest node holds 2 x POOL_DEPTH presignatures again, showing progress.
wait_pools_full() {
  local want=$((2 * POOL_DEPTH)) deadline=$((SECONDS + 60 + 5 * 2 * POOL_DEPTH)) last="" depth
  until [ "$(pool_depth)" -ge "$want" ] 2>/dev/null; do
    depth=$(pool_depth); [ "$depth" = "$last" ] || say "pool: ${depth:-0}/$want"; last=$depth
    [ $SECONDS -lt $deadline ] || { say "the pools did not fill in time (${depth:-0}/$want)"; exit 1; }
    sleep 2
  done
  say "pool: $want/$want"
}
wait_pools_full
# shellcheck disable=SC2086 # HOT_KEYS is the flags the benchmark printed.
e2e ecdsa-msg-pool-c1  sign-ecdsa-message --requests "$(scaled 30)" --concurrency 1 $HOT_KEYS
wait_pools_full
# shellcheck disable=SC2086
e2e ecdsa-msg-pool-c16 sign-ecdsa-message --requests "$(scaled 100)" --concurrency 16 $HOT_KEYS

python3 - "$DIR/bench/floor.jsonl" "$DIR/bench/e2e.jsonl" <<'PY'
import json, sys
floor = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    floor[(d["bench"], d["n"])] = d
e2e = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
# The floor a mode is compared with: the same protocol for the same 2-of-3 committee, all parties
# on one thread, no network (Ed25519 and resharing have no floor in floor.rs). Message mode is
# compared with the online step from a presignature.
ref = {"keygen": ("ecdsa_keygen", 3), "sign-ecdsa": ("ecdsa_full_sign", 3),
       "sign-ecdsa-message": ("ecdsa_online_sign", 3)}
def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"
rows = [("run", "mode", "req", "conc", "ok", "fail", "per s", "p50 ms", "p90 ms", "p99 ms",
         "max ms", "node CPU s/req", "floor p50 ms", "p50/floor")]
for d in e2e:
    f = floor.get(ref.get(d["mode"], ("", 0)))
    fp50 = f["p50_ms"] if f else None
    ratio = d["p50_ms"] / fp50 if (fp50 and d.get("p50_ms")) else None
    rows.append((d["label"], d["mode"], str(d["requests"]), str(d["concurrency"]), str(d["ok"]),
                 str(d["failed"]), fmt(d["throughput_per_s"], 2), fmt(d["p50_ms"]),
                 fmt(d["p90_ms"]), fmt(d["p99_ms"]), fmt(d["max_ms"]),
                 fmt(d["node_cpu_s"] / d["requests"] if d["requests"] else None, 3),
                 fmt(fp50), fmt(ratio, 2)))
    for code, count in d["errors"].items():
        print(f"[bench] {d['label']}: {count} x {code}", file=sys.stderr)
widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for r in rows:
    print("  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
print()
for key in [("ecdsa_full_sign", 3), ("ecdsa_keygen", 3), ("ecdsa_presign", 3), ("ecdsa_online_sign", 3)]:
    if key in floor:
        d = floor[key]
        print(f"floor {key[0]} (n={key[1]}, t={d['t']}): p50 {d['p50_ms']:.1f} ms, "
              f"CPU per party {d['per_party_ms']:.1f} ms")
PY
