"""Python dependency check speed: a requirements file of 200 packages against the local test index.

Usage: python benchmarks/python_deps.py [--packages 200]
Generates 200 projects (a mix of pure, native with and without aarch64 wheels, sdist-only, with a few
dependencies each), serves them with the tests' index server on loopback, and times `armscan scan` with a cold
and then a warm cache. Target on 2 cores: cold under 5 s, warm under 0.5 s (of analysis; process start-up is
printed apart).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fixtures.pyindex import build  # noqa: E402
from tests.pyindex import IndexServer  # noqa: E402


def generate(root: Path, count: int) -> list[str]:
    rng = random.Random(200)
    build.OUT = root
    names = [f"bench-pkg-{i:03d}" for i in range(count)]
    for i, name in enumerate(names):
        deps = [f"{n}>=1.0" for n in rng.sample(names[i + 1:], k=min(3, len(names) - i - 1))]
        kind = rng.random()
        for version in ("1.0", "1.1"):
            if kind < 0.5:
                build.wheel(name, version, "any", deps)
            elif kind < 0.8:
                build.wheel(name, version, build.X86, deps)
                build.wheel(name, version, build.ARM, deps)
            elif kind < 0.9:
                build.wheel(name, version, build.X86, deps)
                build.sdist(name, version, deps)
            else:
                build.sdist(name, version, deps)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="armscan-pybench-"))
    try:
        index_dir, project, cache = work / "files", work / "project", work / "cache"
        index_dir.mkdir()
        project.mkdir()
        names = generate(index_dir, args.packages)
        (project / "requirements.txt").write_text("".join(f"{n}==1.0\n" for n in names))
        armscan = shutil.which("armscan", path=os.path.dirname(sys.executable)) or "armscan"
        start = time.perf_counter()
        subprocess.run([armscan, "--version"], capture_output=True, check=True)
        startup_s = time.perf_counter() - start
        with IndexServer(index_dir) as server:
            for label in ("cold", "warm"):
                command = [armscan, "scan", str(project), "--index-url", f"{server.url}/simple/", "--python-version",
                           "3.11", "--cache-dir", str(cache), "--json", "-", "--quiet", "--fail-on", "none"]
                requests_before = len(server.requests)
                start = time.perf_counter()
                proc = subprocess.run(command, capture_output=True, text=True, check=False)
                wall = time.perf_counter() - start
                doc = json.loads(proc.stdout)
                print(f"{label}: {wall:.2f} s wall ({doc['stats']['duration_seconds']:.2f} s in the scan, "
                      f"{startup_s:.2f} s process start-up), {len(doc['packages'])} packages, "
                      f"{len(doc['findings'])} findings, {len(server.requests) - requests_before} HTTP requests")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
