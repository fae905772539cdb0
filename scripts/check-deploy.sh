#!/usr/bin/env bash
# Validates everything under deploy/ offline (no cluster, no Docker, no helm binary):
#   1. yamllint (relaxed) on every YAML file under deploy/ except the Helm templates;
#   2. the Helm chart linted and rendered with helm-python-sdk for 3 and 5 nodes (and for NATS as
#      the registry), and rejected for a threshold below a majority, missing required values, a
#      misspelt value and an unknown registry;
#   3. kubernetes-validate --strict against Kubernetes $K8S_VERSION for every rendered document,
#      every deploy/k8s/*.yaml and `kubectl kustomize deploy/k8s`; an unknown kind fails too;
#   4. deploy/tests/check_policies.py on every pod spec (non-root 65532, read-only root, drop ALL,
#      probes, writable mounts, `mpcium start` flags read from the built binary's --help);
#   5. deploy/tests/check_parity.py: the chart (3 nodes) renders the node pods of deploy/k8s;
#      deploy/tests/check_config.py: the real node accepts every shipped config.yaml;
#   6. deploy/tests/check_image.py: the Dockerfile's runtime contract and the built binaries' needs;
#   7. every known-bad fixture in deploy/tests/bad/ is rejected, for the reason its "# expect:" says.
# Tools come from PyPI into .tools/deploy-venv (pinned). Binary-based checks use target/debug (or
# $MPCIUM_BIN_DIR) and are skipped with a message when the binaries are not built.
# Exits non-zero if any step fails; each failure names the file or document.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=".tools/deploy-venv"
K8S_VERSION="1.30.0"
PY_TOOLS=(kubernetes-validate==1.37.0 helm-python-sdk==0.2.2 yamllint==1.38.0)
CHART="deploy/helm/mpcium"
BIN_DIR="${MPCIUM_BIN_DIR:-target/debug}"
MPCIUM="$BIN_DIR/mpcium"
MPCIUM_CLI="$BIN_DIR/mpcium-cli"

log() { echo "check-deploy: $*"; }
indent() { sed "s/^/    /"; }

installed="$("$VENV/bin/pip" freeze 2>/dev/null || true)"
for tool in "${PY_TOOLS[@]}"; do
  if ! grep -qix -- "$tool" <<<"$installed"; then
    log "installing ${PY_TOOLS[*]} into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_TOOLS[@]}"
    break
  fi
done
PY="$VENV/bin/python"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

failed=()
step() {
  local name="$1"
  shift
  log "--- $name"
  if "$@"; then
    log "ok: $name"
  else
    log "FAILED: $name"
    failed+=("$name")
  fi
}

# kubernetes-validate exits 0 on a kind it has no schema for (a typo in `kind:`); treat every
# warning or error line as a failure and name the file.
validate_schema() {
  local file out status=0
  for file in "$@"; do
    if ! out="$("$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$file" 2>&1)" \
      || grep -qE '^(WARN|ERROR)|Couldn.t parse' <<<"$out"; then
      echo "FAIL $file:"
      indent <<<"$out"
      status=1
    else
      echo "valid: $file"
    fi
  done
  return "$status"
}

lint_yaml() {
  local files
  mapfile -t files < <(find deploy -name '*.yaml' -not -path "$CHART/templates/*" | sort)
  "$VENV/bin/yamllint" -f parsable -d '{extends: relaxed, rules: {line-length: {max: 200}}}' "${files[@]}" \
    && echo "yamllint: ${#files[@]} files clean"
}

render_chart() {
  "$PY" deploy/tests/render_chart.py "$CHART" --nodes 3 --threshold 2 --out "$WORK/chart-n3.yaml" \
    && "$PY" deploy/tests/render_chart.py "$CHART" --nodes 5 --threshold 3 --out "$WORK/chart-n5.yaml" \
    && "$PY" deploy/tests/render_chart.py "$CHART" --nodes 3 --threshold 3 --registry nats --out "$WORK/chart-n3-nats.yaml" \
    && "$PY" deploy/tests/render_chart.py "$CHART" --nodes 5 --threshold 2 \
      --expect-error "threshold 2 is invalid for 5 nodes" \
    && "$PY" deploy/tests/render_chart.py "$CHART" --bare --expect-error "eventInitiator.pubkey is required" \
    && "$PY" deploy/tests/render_chart.py "$CHART" --set 'threshhold=2' \
      --expect-error "additional properties 'threshhold' not allowed" \
    && "$PY" deploy/tests/render_chart.py "$CHART" --set 'registry="etcd"' --expect-error "value must be one of"
}

kustomize() {
  if ! command -v kubectl >/dev/null 2>&1; then
    echo "SKIP: kubectl not installed; deploy/k8s/kustomization.yaml not rendered"
    cp deploy/k8s/namespace.yaml "$WORK/kustomized.yaml"
    return 0
  fi
  kubectl kustomize deploy/k8s >"$WORK/kustomized.yaml"
}

# The manifests to check: the hand-written ones (but not the kustomization itself) and the renders.
good_manifests() {
  find deploy/k8s -maxdepth 1 -name '*.yaml' -not -name kustomization.yaml | sort
  ls "$WORK"/chart-*.yaml "$WORK/kustomized.yaml"
}

check_good() {
  local files
  mapfile -t files < <(good_manifests)
  case "$1" in
    schema) validate_schema "${files[@]}" ;;
    policies) "$PY" deploy/tests/check_policies.py --mpcium-bin "$MPCIUM" --cli-bin "$MPCIUM_CLI" "${files[@]}" ;;
    config) "$PY" deploy/tests/check_config.py "$MPCIUM" "$MPCIUM_CLI" "${files[@]}" ;;
  esac
}

# Every fixture must fail at least one check, and its output must contain the fixture's
# "# expect: <text>" line, so it is rejected for the intended reason and not by accident.
check_bad() {
  local fixture expect out status=0 has_bin=0
  [ -x "$MPCIUM" ] && [ -x "$MPCIUM_CLI" ] && has_bin=1
  for fixture in deploy/tests/bad/*; do
    expect="$(sed -n 's/^# expect: //p' "$fixture" | head -n 1)"
    if [ -z "$expect" ]; then
      echo "FAIL $fixture: has no '# expect: <text>' line"
      status=1
      continue
    fi
    if grep -q '^# needs-binary' "$fixture" && [ "$has_bin" -eq 0 ]; then
      echo "SKIP $fixture: needs $MPCIUM (not built)"
      continue
    fi
    if [[ "$fixture" == *.Dockerfile ]]; then
      if out="$("$PY" deploy/tests/check_image.py "$fixture" 2>&1)"; then
        out="ACCEPTED $out"
      fi
    else
      out="$(
        validate_schema "$fixture" 2>&1 || echo "REJECTED"
        if grep -q '^kind: ConfigMap' "$fixture"; then
          "$PY" deploy/tests/check_config.py "$MPCIUM" "$MPCIUM_CLI" "$fixture" 2>&1 || echo "REJECTED"
        else
          "$PY" deploy/tests/check_policies.py --mpcium-bin "$MPCIUM" --cli-bin "$MPCIUM_CLI" "$fixture" 2>&1 || echo "REJECTED"
        fi
      )"
      grep -q '^REJECTED$' <<<"$out" || out="ACCEPTED $out"
    fi
    if [[ "$out" == ACCEPTED* ]]; then
      echo "FAIL $fixture was accepted but must be rejected ($expect):"
      indent <<<"$out"
      status=1
    elif ! grep -qF -- "$expect" <<<"$out"; then
      echo "FAIL $fixture was rejected, but not with \"$expect\":"
      indent <<<"$out"
      status=1
    else
      echo "rejected as expected: $fixture ($expect)"
    fi
  done
  return "$status"
}

step "yamllint deploy/" lint_yaml
step "helm lint + render ($CHART)" render_chart
step "kubectl kustomize deploy/k8s" kustomize
step "kubernetes-validate --strict -k $K8S_VERSION" check_good schema
step "pod policies" check_good policies
step "Helm chart renders the pods of deploy/k8s" \
  "$PY" deploy/tests/check_parity.py "$WORK/chart-n3.yaml" deploy/k8s/node0-deployment.yaml \
  deploy/k8s/node1-deployment.yaml deploy/k8s/node2-deployment.yaml
step "node accepts the shipped config.yaml" check_good config
step "Dockerfile and packaged binaries" "$PY" deploy/tests/check_image.py deploy/Dockerfile "$MPCIUM" "$MPCIUM_CLI"
step "known-bad fixtures are rejected" check_bad

if [ "${#failed[@]}" -gt 0 ]; then
  log "FAILED steps: ${failed[*]}"
  exit 1
fi
log "all deployment checks passed"
