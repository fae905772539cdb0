#!/usr/bin/env bash
# Soak: many Ed25519 signatures at high concurrency against a fresh local cluster
# (scripts/local-cluster.sh: nats-server + 3 nodes, 2-of-3), fired in phases with
# `mpcium-cli benchmark`, and after each phase what must stay bounded: errors, p50, the consumer
# count of every JetStream KV stream (from nats-server's /jsz) and the RSS of each node and of
# nats-server. Numbers are printed, nothing is asserted (tests/tests/soak.rs is the short, asserted
# version).
#
#   scripts/soak.sh                               20,000 signatures, concurrency 32, 10 phases
#   REQUESTS=2000 PHASES=4 scripts/soak.sh        a quick look
#   PROFILE=debug scripts/soak.sh                 debug binaries (no release build; latencies
#                                                 are not representative, the rest is)
#
# Raw JSON lines go to .local-cluster/soak/phases.jsonl; the cluster is stopped at the end.
# docs/benchmarks.md ("Soak") says what the figures mean and records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DIR="$ROOT/.local-cluster"
PROFILE="${PROFILE:-release}"
export PROFILE
BIN="$ROOT/target/$PROFILE"
REQUESTS="${REQUESTS:-20000}"
PHASES="${PHASES:-10}"
CONCURRENCY="${CONCURRENCY:-32}"
PER_PHASE=$(( (REQUESTS + PHASES - 1) / PHASES ))

say() { printf '\033[1m[soak]\033[0m %s\n' "$*" >&2; }
trap 'scripts/local-cluster.sh down >/dev/null 2>&1 || true' EXIT

say "starting a fresh local cluster"
scripts/local-cluster.sh >&2
mkdir -p "$DIR/soak"
: >"$DIR/soak/phases.jsonl"
PORTS=$(ls "$DIR"/nats-server_*.ports)
NATS_URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nats"][0])' "$PORTS")
MONITOR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["monitoring"][0])' "$PORTS")

# One JSON object: consumers of every KV stream, RSS (KiB) of each node and of nats-server.
observe() {
  local rss=""
  for pidfile in "$DIR"/node*.pid "$DIR"/nats.pid; do
    rss="$rss $(basename "$pidfile" .pid)=$(ps -o rss= -p "$(cat "$pidfile")" | tr -d ' ')"
  done
  curl -sf "$MONITOR/jsz?accounts=true&streams=true" | python3 -c '
import json, sys
jsz = json.load(sys.stdin)
consumers = {}
for account in jsz.get("account_details", []):
    for stream in account.get("stream_detail", []):
        if stream["name"].startswith("KV_"):
            consumers[stream["name"]] = stream["state"].get("consumer_count", 0)
rss = dict(kv.split("=") for kv in sys.argv[1].split())
print(json.dumps({"kv_consumers": consumers, "rss_kib": {k: int(v or 0) for k, v in rss.items()}}))
' "$rss"
}

say "$REQUESTS Ed25519 signatures at concurrency $CONCURRENCY in $PHASES phases of $PER_PHASE"
WALLET_ARGS=()
for phase in $(seq 1 "$PHASES"); do
  # A failed request makes the exit status non-zero; the summary (with its errors) still counts.
  "$BIN/mpcium-cli" benchmark sign-eddsa --requests "$PER_PHASE" --concurrency "$CONCURRENCY" \
    --json --nats "$NATS_URL" \
    --key "$DIR/setup/initiator_private.key.age" --password-file "$DIR/secrets/initiator.pass" \
    "${WALLET_ARGS[@]}" >"$DIR/soak/phase.json" 2>"$DIR/soak/phase.err" || true
  cat "$DIR/soak/phase.err" >&2
  if [ ${#WALLET_ARGS[@]} -eq 0 ]; then
    # Every phase signs with the wallet the first one created.
    read -r -a WALLET_ARGS < <(sed -n 's/.*(reuse with \(--wallet [^)]*\)).*/\1/p' "$DIR/soak/phase.err")
  fi
  python3 -c '
import json, sys
d = json.loads(open(sys.argv[1]).read())
d.update(json.loads(sys.argv[2]))
d["phase"] = int(sys.argv[3])
print(json.dumps(d))
' "$DIR/soak/phase.json" "$(observe)" "$phase" >>"$DIR/soak/phases.jsonl"
  say "phase $phase done: $(tail -n 1 "$DIR/soak/phases.jsonl")"
done

python3 - "$DIR/soak/phases.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
streams = sorted({s for r in rows for s in r["kv_consumers"]})
procs = sorted({p for r in rows for p in r["rss_kib"]})
head = ["phase", "ok", "fail", "per s", "p50 ms", "p90 ms", "p99 ms"] + \
       [s.removeprefix("KV_") for s in streams] + [f"{p} MB" for p in procs]
table = [head]
for r in rows:
    fmt = lambda x: "-" if x is None else f"{x:.1f}"
    table.append([str(r["phase"]), str(r["ok"]), str(r["failed"]), f'{r["throughput_per_s"]:.1f}',
                  fmt(r["p50_ms"]), fmt(r["p90_ms"]), fmt(r["p99_ms"])] +
                 [str(r["kv_consumers"].get(s, "-")) for s in streams] +
                 [f'{r["rss_kib"].get(p, 0) / 1024:.0f}' for p in procs])
widths = [max(len(t[i]) for t in table) for i in range(len(head))]
for t in table:
    print("  ".join(c.rjust(w) for c, w in zip(t, widths)))
errors = {}
for r in rows:
    for code, n in r["errors"].items():
        errors[code] = errors.get(code, 0) + n
first, last = rows[0], rows[-1]
print()
print(f"requests {sum(r['requests'] for r in rows)}, failed {sum(r['failed'] for r in rows)}"
      + (f" ({', '.join(f'{n} x {c}' for c, n in errors.items())})" if errors else ""))
if first["p50_ms"] and last["p50_ms"]:
    print(f"p50 last/first phase: {last['p50_ms']:.1f} / {first['p50_ms']:.1f} ms = "
          f"{last['p50_ms'] / first['p50_ms']:.2f}")
print("most consumers on a KV stream: " +
      ", ".join(f"{s} {max(r['kv_consumers'].get(s, 0) for r in rows)}" for s in streams))
print("RSS first -> last phase: " + ", ".join(
      f"{p} {first['rss_kib'].get(p, 0) / 1024:.0f} -> {last['rss_kib'].get(p, 0) / 1024:.0f} MB"
      for p in procs))
PY
