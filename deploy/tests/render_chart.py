#!/usr/bin/env python3
"""Lints and renders the mpcium Helm chart offline (helm-python-sdk: Helm's Go code, no binary).

Usage:
  render_chart.py CHART --nodes N --threshold T --out FILE [--registry consul|nats] [--set K=JSON]...
      lint (strict, Kubernetes 1.30) and write every rendered manifest to FILE as one YAML stream;
      checks that exactly N Deployments and N PersistentVolumeClaims came out.
  render_chart.py CHART [--nodes N --threshold T | --bare] [--set K=JSON]... --expect-error TEXT
      the render must fail with an error containing TEXT (the chart's schema or its own checks).
      --bare renders with the chart's defaults only; --set adds a top-level value.
Exits non-zero, saying why, on any lint error, render error or count mismatch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from helm_python import chart

# Placeholders that pass the chart's and the node's format checks; not a real deployment's values.
TEST_VALUES: dict[str, Any] = {
    "eventInitiator": {"pubkey": "6cdddd50b0e550f285c5e998cb9c9c88224680cd5922307b9c2e3c395f78dabc"},
    "chainCode": "00" * 32,
}
KUBE_VERSION = "v1.30.0"


def values_for(nodes: int, threshold: int, registry: str) -> dict[str, Any]:
    """Test values for a committee of `nodes` with `threshold` signers."""
    return {**TEST_VALUES, "nodeCount": nodes, "threshold": threshold, "registry": registry}


def lint(path: Path, values: dict[str, Any]) -> list[str]:
    """Lint errors and warnings (infos such as "icon is recommended" are ignored)."""
    report = chart.lint(str(path), values, strict=True, kube_version=KUBE_VERSION)
    found = [f"{m['path']}: {m['error']}" for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    return found + list(report.get("errors") or [])


def render(path: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rendered manifest document (NOTES.txt and empty documents dropped)."""
    with chart.Chart.load(str(path)) as loaded:
        files = loaded.render(values, name="mpcium", namespace="mpcium", is_install=True)
    docs: list[dict[str, Any]] = []
    for name in sorted(files):
        if name.endswith("NOTES.txt"):
            continue
        docs += [d for d in yaml.safe_load_all(files[name]) if isinstance(d, dict)]
    return docs


def main() -> int:
    """Runs one render as the command line asks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chart", type=Path)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--threshold", type=int, default=2)
    parser.add_argument("--registry", default="consul")
    parser.add_argument("--bare", action="store_true", help="only the chart's default values")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--expect-error")
    opts = parser.parse_args()
    values = {} if opts.bare else values_for(opts.nodes, opts.threshold, opts.registry)
    what = "chart {} with {}".format(
        opts.chart,
        "its default values" if opts.bare else f"{opts.nodes} nodes, threshold {opts.threshold}, registry {opts.registry}",
    )
    for assignment in opts.set:
        key, _, text = assignment.partition("=")
        values[key] = json.loads(text)
        what += f", {key}={text}"

    if opts.expect_error is not None:
        try:
            render(opts.chart, values)
        except Exception as err:  # helm_python raises its own error classes per failure kind
            if opts.expect_error in str(err):
                print(f"render_chart: {what} rejected as expected: {err}")
                return 0
            print(f"FAIL {what}: rejected for the wrong reason: {err}")
            return 1
        print(f"FAIL {what}: rendered, but must be rejected with {opts.expect_error!r}")
        return 1

    problems = lint(opts.chart, values)
    for problem in problems:
        print(f"FAIL helm lint {what}: {problem}")
    try:
        docs = render(opts.chart, values)
    except Exception as err:  # as above
        print(f"FAIL helm template {what}: {err}")
        return 1
    counts = {kind: sum(1 for d in docs if d.get("kind") == kind) for kind in ("Deployment", "PersistentVolumeClaim")}
    for kind, count in counts.items():
        if count != opts.nodes:
            problems.append(f"{count} {kind} objects, expected {opts.nodes}")
            print(f"FAIL {what}: {count} {kind} objects, expected {opts.nodes}")
    if opts.out is not None:
        opts.out.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    print(f"render_chart: {what}: {len(docs)} documents" + (f" -> {opts.out}" if opts.out else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
