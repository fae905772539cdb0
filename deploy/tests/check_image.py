#!/usr/bin/env python3
"""Checks deploy/Dockerfile's runtime contract and that the binaries it packages run on its base.

No Docker engine runs here, so the image is checked in two halves:
  1. the Dockerfile: a bookworm builder that installs m4 and builds both binaries with --locked; a
     final stage on gcr.io/distroless/cc-debian12:nonroot with USER 65532:65532, WORKDIR /app,
     ENTRYPOINT ["/app/mpcium"], the binaries at /app/mpcium and /app/mpcium-cli and /app/data
     owned by 65532;
  2. the binaries (when built): they need only shared libraries the distroless cc base ships (glibc
     2.36 of bookworm, libgcc_s), and `version` runs.

Usage: check_image.py DOCKERFILE [BINARY...]
Exits 1 naming every problem; a missing binary is skipped with a message.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

RUNTIME_BASE = "gcr.io/distroless/cc-debian12:nonroot"
# What gcr.io/distroless/cc-debian12 provides (libc6, libgcc-s1) that a Rust binary may link.
ALLOWED_LIBS = {
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
}
MAX_GLIBC = (2, 36)  # Debian bookworm


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


def check_dockerfile(path: Path) -> list[str]:
    """Every way the Dockerfile breaks the runtime contract."""
    problems: list[str] = []
    stages: list[list[tuple[str, str]]] = []
    for word, rest in instructions(path.read_text()):
        if word == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((word, rest))
    if len(stages) < 2:
        return [f"{path}: expected a multi-stage build (builder + runtime), found {len(stages)} stage(s)"]
    builder, final = stages[0], stages[-1]
    builder_from = builder[0][1]
    if "bookworm" not in builder_from:
        problems.append(f"{path}: builder {builder_from!r} must be Debian bookworm (glibc of the runtime base)")
    runs = " ".join(rest for word, rest in builder if word == "RUN")
    if not re.search(r"apt-get install[^&]*\bm4\b", runs):
        problems.append(f"{path}: builder must apt-get install m4 (GMP is built from source)")
    for needed in ("cargo build", "--release", "--locked", "-p mpcium-node", "-p mpcium-cli"):
        if needed not in runs:
            problems.append(f"{path}: builder's cargo build must use {needed!r}")
    final_from = final[0][1].split(" AS ")[0].strip()
    if final_from != RUNTIME_BASE:
        problems.append(f"{path}: runtime base is {final_from!r}, expected {RUNTIME_BASE}")

    def last(word: str) -> str | None:
        values = [rest for w, rest in final if w == word]
        return values[-1] if values else None

    if last("USER") != "65532:65532":
        problems.append(f"{path}: runtime USER must be 65532:65532, got {last('USER')!r}")
    if last("WORKDIR") != "/app":
        problems.append(f"{path}: runtime WORKDIR must be /app, got {last('WORKDIR')!r}")
    entrypoint = last("ENTRYPOINT")
    if entrypoint is None or json.loads(entrypoint) != ["/app/mpcium"]:
        problems.append(f'{path}: ENTRYPOINT must be ["/app/mpcium"], got {entrypoint!r}')
    copies = [shlex.split(rest) for word, rest in final if word == "COPY"]
    targets = {args[-1]: args for args in copies}
    for binary in ("/app/mpcium", "/app/mpcium-cli"):
        if binary not in targets:
            problems.append(f"{path}: runtime stage must COPY a binary to {binary}")
        elif any(a.startswith("--chown") for a in targets[binary]):
            problems.append(f"{path}: {binary} must stay owned by root (not writable by the node)")
    data = targets.get("/app/data")
    if data is None or "--chown=65532:65532" not in data:
        problems.append(f"{path}: runtime stage must create /app/data owned by 65532:65532")
    if any(word == "RUN" for word, _ in final):
        problems.append(f"{path}: the distroless runtime stage has no shell; RUN cannot work there")
    return problems


def check_binary(path: Path) -> list[str]:
    """Every shared library or glibc symbol version the runtime base lacks; `version` must run."""
    problems: list[str] = []
    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    for lib in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic):
        if lib not in ALLOWED_LIBS:
            problems.append(f"{path}: needs {lib}, which {RUNTIME_BASE} does not ship")
    symbols = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True, check=True).stdout
    versions = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", symbols)}
    too_new = sorted(v for v in versions if v > MAX_GLIBC)
    if too_new:
        shown = ", ".join("GLIBC_" + ".".join(map(str, v)) for v in too_new)
        problems.append(f"{path}: needs {shown}, newer than bookworm's glibc 2.36")
    run = subprocess.run([str(path), "version"], capture_output=True, text=True, timeout=30)
    if run.returncode != 0 or "version" not in run.stdout:
        problems.append(f"{path}: `version` failed (exit {run.returncode}): {run.stderr.strip()}")
    return problems


def main() -> int:
    """Checks the Dockerfile and each binary named on the command line."""
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    problems = check_dockerfile(Path(sys.argv[1]))
    for name in sys.argv[2:]:
        binary = Path(name)
        if binary.is_file():
            problems += check_binary(binary)
            print(f"check_image: checked {binary}")
        else:
            print(f"check_image: SKIP {binary}: not built (cargo build -p mpcium-node -p mpcium-cli)")
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"check_image: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
