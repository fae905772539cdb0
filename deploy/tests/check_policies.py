#!/usr/bin/env python3
"""Security and wiring policy for every pod spec in Kubernetes manifests.

Checks what a schema cannot: each pod runs as uid/gid 65532 with runAsNonRoot, no service-account
token, and each container has a read-only root filesystem, no privilege escalation, all capabilities
dropped, writable mounts only at /app/data (a PersistentVolumeClaim) and /tmp (an emptyDir), and
arguments the binary accepts: the subcommand's flags are read from `<binary> <subcommand> --help`
(`/app/mpcium` by default, `/app/mpcium-cli` when the command says so; skipped with a message when
the binaries are not given). Long-running node pods (Deployment, StatefulSet, ...) must also run
`start` with a --name matching their `app` label and have liveness (/healthz) and readiness
(/readyz) HTTP probes; one-off Jobs and Pods (e.g. a restore) need not. Services must target
container port names that the pods in the same files declare.

Usage: check_policies.py [--mpcium-bin PATH] [--cli-bin PATH] FILE...
Exits 1 naming the file, document and container of every violation; exits 2 if no pod spec was
found at all (a vacuous pass would hide a broken render).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import yaml

UID = 65532
WRITABLE = {"/app/data": "persistentVolumeClaim", "/tmp": "emptyDir"}
PROBES = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
LONG_RUNNING_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
IMAGE_BINARIES = ("/app/mpcium", "/app/mpcium-cli")


class Flags:
    """Long flags each `<binary> <subcommand> --help` lists, read once per subcommand."""

    def __init__(self, binaries: dict[str, Path]):
        self.binaries = binaries
        self.cache: dict[tuple[str, str], set[str]] = {}

    def of(self, command: str, subcommand: str) -> set[str] | None:
        """The subcommand's flags (without dashes), an empty set for an unknown subcommand, or
        None when the binary is not available."""
        binary = self.binaries.get(command)
        if binary is None:
            return None
        key = (command, subcommand)
        if key not in self.cache:
            run = subprocess.run([str(binary), subcommand, "--help"], capture_output=True, text=True, timeout=30)
            found = set(re.findall(r"--([a-z][a-z0-9-]*)", run.stdout)) if run.returncode == 0 else set()
            self.cache[key] = found
        return self.cache[key]


def pod_specs(doc: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yields (pod spec, pod labels) of a manifest that runs pods."""
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind == "Pod":
        yield spec, (doc.get("metadata") or {}).get("labels") or {}
    elif kind in LONG_RUNNING_KINDS or kind == "Job":
        template = spec.get("template") or {}
        yield template.get("spec") or {}, (template.get("metadata") or {}).get("labels") or {}
    elif kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        yield template.get("spec") or {}, (template.get("metadata") or {}).get("labels") or {}


def check_pod(spec: dict[str, Any], labels: dict[str, Any], node: bool, flags: Flags) -> list[str]:
    """Every policy violation of one pod spec, as sentences; `node`: a long-running node pod."""
    problems: list[str] = []
    pod_sc = spec.get("securityContext") or {}
    if pod_sc.get("runAsNonRoot") is not True:
        problems.append("pod securityContext.runAsNonRoot must be true")
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        if pod_sc.get(key) != UID:
            problems.append(f"pod securityContext.{key} must be {UID}, got {pod_sc.get(key)!r}")
    if spec.get("automountServiceAccountToken") is not False:
        problems.append("automountServiceAccountToken must be false (the node needs no API access)")
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        problems.append("hostNetwork/hostPID/hostIPC must not be set")
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    for volume in volumes.values():
        if "hostPath" in volume:
            problems.append(f"volume {volume.get('name')!r} is a hostPath")
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    if not containers:
        problems.append("pod has no containers")
    for container in containers:
        where = f"container {container.get('name')!r}"
        problems += [f"{where}: {p}" for p in check_container(container, volumes, labels, node, flags)]
    return problems


def check_container(
    container: dict[str, Any],
    volumes: dict[str, Any],
    labels: dict[str, Any],
    node: bool,
    flags: Flags,
) -> list[str]:
    """Every policy violation of one container."""
    problems: list[str] = []
    sc = container.get("securityContext") or {}
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("securityContext.readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("securityContext.allowPrivilegeEscalation must be false")
    if sc.get("privileged"):
        problems.append("securityContext.privileged must not be true")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        problems.append("securityContext.capabilities.drop must contain ALL")
    if caps.get("add"):
        problems.append(f"securityContext.capabilities.add must be empty, got {caps['add']!r}")
    for key in ("runAsUser", "runAsGroup"):
        if key in sc and sc[key] != UID:
            problems.append(f"securityContext.{key} must be {UID}, got {sc[key]!r}")
    if sc.get("runAsNonRoot") is False:
        problems.append("securityContext.runAsNonRoot must not be false")
    for probe, path in PROBES.items() if node else ():
        got = ((container.get(probe) or {}).get("httpGet") or {}).get("path")
        if got != path:
            problems.append(f"{probe} must be an httpGet on {path}, got {got!r}")
    problems += check_mounts(container.get("volumeMounts") or [], volumes)
    command = container.get("command") or ["/app/mpcium"]
    if len(command) != 1 or command[0] not in IMAGE_BINARIES:
        problems.append(f"command must be one of the image's binaries {IMAGE_BINARIES}, got {command!r}")
    elif node and command[0] != "/app/mpcium":
        problems.append("a node pod must run /app/mpcium")
    else:
        problems += check_args(command[0], container.get("args") or [], labels, node, flags)
    return problems


def check_mounts(mounts: list[dict[str, Any]], volumes: dict[str, Any]) -> list[str]:
    """Writable mounts only at /app/data (a PVC) and /tmp (an emptyDir)."""
    problems: list[str] = []
    for mount in mounts:
        if mount.get("readOnly") is True:
            continue
        path = mount.get("mountPath")
        wanted = WRITABLE.get(path)
        if wanted is None:
            problems.append(
                f"volume mount {mount.get('name')!r} at {path} is writable; only "
                f"{', '.join(sorted(WRITABLE))} may be (add readOnly: true)"
            )
        elif wanted not in (volumes.get(mount.get("name")) or {}):
            problems.append(f"writable mount {path} must be a {wanted} volume")
    return problems


def check_args(command: str, args: list[Any], labels: dict[str, Any], node: bool, flags: Flags) -> list[str]:
    """A subcommand with flags the binary accepts; a node runs `start` with a --name matching its
    pod's `app` label."""
    problems: list[str] = []
    if not args or str(args[0]).startswith("-"):
        return [f"args must begin with a subcommand, got {args!r}"]
    subcommand = str(args[0])
    if node:
        if subcommand != "start":
            return [f"a node pod must run the start subcommand, got {subcommand!r}"]
        names = [str(a).split("=", 1)[1] for a in args if str(a).startswith("--name=")]
        if len(names) != 1:
            problems.append("args must carry exactly one --name=<node>")
        elif not str(labels.get("app", "")).endswith(f"-{names[0]}"):
            problems.append(f"--name={names[0]} does not match the pod label app={labels.get('app')!r}")
    known = flags.of(command, subcommand)
    if known is None:
        return problems
    if not known:
        return problems + [f"{command} has no subcommand {subcommand!r}"]
    program = command.rsplit("/", 1)[-1]
    for arg in map(str, args[1:]):
        if not arg.startswith("--"):
            problems.append(f"argument {arg!r} is not a --flag")
            continue
        flag = arg[2:].split("=", 1)[0]
        if flag not in known:
            problems.append(f"flag --{flag} is not accepted by `{program} {subcommand}`")
    return problems


def check_service_ports(services: list[tuple[Path, int, dict[str, Any]]], port_names: set[str]) -> int:
    """Prints and counts Service ports that target a container port name no pod declares."""
    failures = 0
    for path, index, doc in services:
        for port in (doc.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort")
            if isinstance(target, str) and target not in port_names:
                name = (doc.get("metadata") or {}).get("name")
                print(f"FAIL {path} document {index} (Service/{name}): targetPort {target!r} names no container port")
                failures += 1
    return failures


def main() -> int:
    """Checks every file named on the command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mpcium-bin", type=Path, help="mpcium binary to read flags from")
    parser.add_argument("--cli-bin", type=Path, help="mpcium-cli binary to read flags from")
    parser.add_argument("files", nargs="+", type=Path)
    opts = parser.parse_args()

    binaries = {}
    for command, binary in (("/app/mpcium", opts.mpcium_bin), ("/app/mpcium-cli", opts.cli_bin)):
        if binary is not None and binary.is_file():
            binaries[command] = binary
        else:
            print(f"check_policies: SKIP argument check for {command}: binary not given or not built")
    flags = Flags(binaries)

    failures = 0
    pods = 0
    services: list[tuple[Path, int, dict[str, Any]]] = []
    port_names: set[str] = set()
    for path in opts.files:
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as err:
            print(f"FAIL {path}: not valid YAML: {err}")
            failures += 1
            continue
        for index, doc in enumerate(docs):
            if not isinstance(doc, dict):
                continue
            name = (doc.get("metadata") or {}).get("name")
            if doc.get("kind") == "Service":
                services.append((path, index, doc))
            node = doc.get("kind") in LONG_RUNNING_KINDS
            for spec, labels in pod_specs(doc):
                pods += 1
                for container in spec.get("containers") or []:
                    port_names |= {p.get("name") for p in container.get("ports") or [] if p.get("name")}
                for problem in check_pod(spec, labels, node, flags):
                    print(f"FAIL {path} document {index} ({doc.get('kind')}/{name}): {problem}")
                    failures += 1
    failures += check_service_ports(services, port_names)
    if pods == 0:
        print(f"FAIL no pod spec found in {', '.join(map(str, opts.files))}")
        return 2
    print(f"check_policies: {pods} pod specs checked, {failures} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
