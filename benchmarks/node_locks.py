"""Node lock file reading speed: generated package-lock.json, yarn.lock and pnpm-lock.yaml of N packages.

Usage: python benchmarks/node_locks.py [--packages 20000]
Each lock pins N packages (a few of them known native packages at releases without a linux-arm64 build)
with three dependencies each. Prints the size and the time to read the lock and run both Node lock checks
on it, in-process (the best of three). Target: a 20,000-package lock in well under a second.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from armscan.analyzers import nodelock, nodenative  # noqa: E402
from armscan.analyzers.nodelockfile import read_lock  # noqa: E402
from armscan.rules_engine.loader import load_rules  # noqa: E402

NATIVE = {"bcrypt": "5.0.1", "node-sass": "4.14.1", "zeromq": "6.0.0"}


def packages(count: int) -> list[tuple[str, str, list[str]]]:
    rng = random.Random(1)
    names = [f"pkg-{i}" for i in range(count - len(NATIVE))] + list(NATIVE)
    return [(name, NATIVE.get(name, f"1.{i % 50}.{i % 7}"), rng.sample(names, 3)) for i, name in enumerate(names)]


def npm_lock(entries: list[tuple[str, str, list[str]]]) -> str:
    found = {"": {"name": "app", "dependencies": {n: "*" for n, _, _ in entries[:50]}}}
    for name, version, deps in entries:
        found[f"node_modules/{name}"] = {"version": version, "dependencies": dict.fromkeys(deps, "*")}
    return json.dumps({"name": "app", "lockfileVersion": 3, "packages": found}, indent=2)


def yarn_lock(entries: list[tuple[str, str, list[str]]]) -> str:
    out = ["# yarn lockfile v1", ""]
    for name, version, deps in entries:
        out += [f"{name}@^{version}:", f'  version "{version}"', "  dependencies:"]
        out += [f'    {d} "*"' for d in deps] + [""]
    return "\n".join(out)


def pnpm_lock(entries: list[tuple[str, str, list[str]]]) -> str:
    out = ["lockfileVersion: '9.0'", "", "packages:", ""]
    for name, version, _ in entries:
        out += [f"  {name}@{version}:", "    resolution: {integrity: sha512-x}", ""]
    out += ["snapshots:", ""]
    for name, version, deps in entries:
        out += [f"  {name}@{version}:", "    dependencies:"] + [f"      {d}: 1.0.0" for d in deps] + [""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=20000)
    args = parser.parse_args()
    rules = load_rules()
    entries = packages(args.packages)
    for name, text in (("package-lock.json", npm_lock(entries)), ("yarn.lock", yarn_lock(entries)),
                       ("pnpm-lock.yaml", pnpm_lock(entries))):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            lock = read_lock(name, text)
            findings = nodelock.analyze(lock, name, rules) + nodenative.lock_findings(lock, name, rules)
            best = min(best, time.perf_counter() - start)
        print(f"{name:18} {len(text) / 1e6:6.1f} MB {len(lock.packages):6} packages  {best:.3f} s  "
              f"{len(findings)} findings")


if __name__ == "__main__":
    main()
