#!/usr/bin/env python3
"""Checks that the node accepts the config.yaml a manifest ships, using the real binaries.

For every ConfigMap whose data holds `config.yaml` (in the given files), this writes a pod-like
working directory: the config, a peers.json made by `mpcium-cli generate-peers` for as many nodes
as the files have Deployments, and the password files; then runs `mpcium start` with the same flags
as the Deployments. There is no identity directory, so a node that accepted its configuration stops
at loading `identity/`; any earlier stop (a config key, the threshold, peers.json) is a failure, and
so is a key the node does not know (it would be ignored with a warning).
Placeholders of the hand-written templates (`<...>`) are replaced with test values first.

Usage: check_config.py MPCIUM MPCIUM_CLI FILE...
Exits 1 naming the file and the node's error; skips with a message when a binary is missing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

PLACEHOLDERS = {
    "<your-initiator-public-key>": "6cdddd50b0e550f285c5e998cb9c9c88224680cd5922307b9c2e3c395f78dabc",
    "<64-hex-characters-from-openssl-rand-hex-32>": "00" * 32,
}


def node_configs(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(ConfigMap name, config.yaml text) of every node ConfigMap."""
    return [
        ((d.get("metadata") or {}).get("name", "?"), d["data"]["config.yaml"])
        for d in docs
        if d.get("kind") == "ConfigMap" and "config.yaml" in (d.get("data") or {})
    ]


def fill_placeholders(text: str) -> str:
    """The config with every known placeholder replaced; unknown `<...>` values are left to fail."""
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text


def start(mpcium: Path, cli: Path, config: str, nodes: int) -> subprocess.CompletedProcess[str]:
    """Runs `mpcium start --name=node0` in a fresh pod-like directory."""
    with tempfile.TemporaryDirectory(prefix="mpcium-config-check-") as tmp:
        app = Path(tmp)
        (app / "config.yaml").write_text(config)
        (app / "db.cred").write_text("config-check-0123456789abcdef")
        (app / "identity.cred").write_text("config-check-passphrase")
        subprocess.run([str(cli), "generate-peers", "-n", str(nodes)], cwd=app, check=True, capture_output=True)
        return subprocess.run(
            [
                str(mpcium),
                "start",
                "--name=node0",
                f"--config={app / 'config.yaml'}",
                f"--password-file={app / 'db.cred'}",
                f"--identity-password-file={app / 'identity.cred'}",
                "--decrypt-private-key",
            ],
            cwd=app,
            # a clean environment: variables such as MPC_THRESHOLD would override the file
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=60,
        )


def main() -> int:
    """Checks every node ConfigMap in the files named on the command line."""
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    mpcium, cli = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    if not (mpcium.is_file() and cli.is_file()):
        print(f"check_config: SKIP: {mpcium} or {cli} not built (cargo build -p mpcium-node -p mpcium-cli)")
        return 0
    problems = 0
    checked = 0
    for name in sys.argv[3:]:
        path = Path(name)
        docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
        nodes = sum(1 for d in docs if d.get("kind") == "Deployment") or 3
        for configmap, text in node_configs(docs):
            checked += 1
            run = start(mpcium, cli, fill_placeholders(text), nodes)
            error = run.stderr.strip()
            if "unknown config key" in error:
                print(f"FAIL {path} ConfigMap {configmap}: the node ignores a key of its config.yaml: {error}")
                problems += 1
            elif run.returncode != 0 and re.search(r"identity/node0_private\.key\.age", error):
                print(f"check_config: {path} ConfigMap {configmap}: accepted by the node ({nodes} peers)")
            else:
                print(f"FAIL {path} ConfigMap {configmap}: the node rejected its config.yaml: {error}")
                problems += 1
    if checked == 0:
        print(f"FAIL no ConfigMap with config.yaml in {', '.join(sys.argv[3:])}")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
