#!/usr/bin/env python3
"""Checks that the Helm chart (release `mpcium`, 3 nodes, default values) renders the same node
pods as the hand-written deploy/k8s manifests, so the two layouts cannot drift apart.

Compared per Deployment of the same name: the pod's securityContext, service account settings and
volumes, and each container's args, ports, probes, resources, volume mounts and securityContext.
Labels, annotations and the image are allowed to differ (the chart adds Helm's labels).

Usage: check_parity.py RENDERED_CHART_FILE STATIC_FILE...
Exits 1 naming each Deployment and field that differs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

POD_FIELDS = ("securityContext", "serviceAccountName", "automountServiceAccountToken", "volumes")
CONTAINER_FIELDS = (
    "name",
    "args",
    "ports",
    "startupProbe",
    "livenessProbe",
    "readinessProbe",
    "resources",
    "volumeMounts",
    "securityContext",
)


def deployments(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Deployment name → manifest, over every document of the files."""
    found: dict[str, dict[str, Any]] = {}
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Deployment":
                found[doc["metadata"]["name"]] = doc
    return found


def differences(name: str, chart: dict[str, Any], static: dict[str, Any]) -> list[str]:
    """Fields of the node pod that differ between the chart's and the static Deployment."""
    problems: list[str] = []
    pods = [d["spec"]["template"]["spec"] for d in (chart, static)]
    for field in POD_FIELDS:
        if pods[0].get(field) != pods[1].get(field):
            problems.append(f"{name}: pod {field} differs: chart {pods[0].get(field)!r} vs deploy/k8s {pods[1].get(field)!r}")
    containers = [p.get("containers") or [] for p in pods]
    if len(containers[0]) != len(containers[1]):
        return problems + [f"{name}: the chart has {len(containers[0])} containers, deploy/k8s {len(containers[1])}"]
    for ours, theirs in zip(*containers):
        for field in CONTAINER_FIELDS:
            if ours.get(field) != theirs.get(field):
                problems.append(
                    f"{name}: container {ours.get('name')!r} {field} differs: "
                    f"chart {ours.get(field)!r} vs deploy/k8s {theirs.get(field)!r}"
                )
    return problems


def main() -> int:
    """Compares the rendered chart with the static manifests named on the command line."""
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    chart = deployments([Path(sys.argv[1])])
    static = deployments([Path(p) for p in sys.argv[2:]])
    problems: list[str] = []
    if sorted(chart) != sorted(static):
        problems.append(f"Deployments differ: chart {sorted(chart)} vs deploy/k8s {sorted(static)}")
    for name in sorted(set(chart) & set(static)):
        problems += differences(name, chart[name], static[name])
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"check_parity: {len(set(chart) & set(static))} Deployments compared, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
