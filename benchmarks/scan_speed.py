"""Scan speed: /usr/include and a generated tree of 100,000 small files, beside ripgrep.

Usage: python benchmarks/scan_speed.py [--files 100000] [--jobs N] [--keep DIR]
Prints files/s, MB/s and wall time for `armscan scan` (the installed command, a fresh process each run, best of
three) and for `rg` searching the same trees with patterns equivalent to the C rules. Target on 2 cores:
/usr/include in under 3 s wall.
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

# What the C rules look for, in ripgrep's syntax (it has no look-behind, so boundaries become \b).
RG_PATTERNS = [
    r"#\s*include\s*[<\x22]\w*intrin\.h",
    r"\b_mm(256|512)?_\w+|\b__m(64|128|256|512)[id]?\b|__builtin_ia32_\w+",
    r"\b(__asm__|__asm|asm)\b",
    r"\b(__get_cpuid\w*|__cpuid\w*|__rdtscp?|_rdtsc)\s*\(",
    r"#\s*(if|ifdef|ifndef|elif|else|endif|error)\b",
    r"\b(__x86_64__|__i386__|_M_X64|_M_IX86|__SSE\w*__|__AVX\w*__|__aarch64__|__ARM_NEON)\b",
    r"-m(arch|tune)=\S+|-m(sse|avx|fma)\S*",
]

C_SAMPLES = [
    "#include <stdio.h>\nint f{n}(int x) {{ return x * {n}; }}\n",
    "#include <immintrin.h>\nvoid g{n}(float *p) {{ _mm_storeu_ps(p, _mm_set1_ps({n}.0f)); }}\n",
    "#if defined(__x86_64__)\n#define W{n} 64\n#elif defined(__aarch64__)\n#define W{n} 64\n#endif\n",
    "static inline void r{n}(void) {{ __asm__ __volatile__(\"pause\"); }}\n",
]


def generate_tree(root: Path, count: int, x86_share: float = 0.05) -> None:
    rng = random.Random(20261128)
    so = (Path(__file__).resolve().parent.parent / "fixtures" / "bin" / "libmix-x86_64.so").read_bytes()
    for i in range(count):
        folder = root / f"pkg{i // 500:03d}" / f"mod{(i // 50) % 10}"
        if i % 50 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        kind = rng.random()
        if kind < 0.55:
            # Most real C files have no x86-specific code: about one in twenty does here.
            sample = rng.choice(C_SAMPLES[1:]) if rng.random() < x86_share else C_SAMPLES[0]
            (folder / f"f{i}.c").write_text(sample.format(n=i) * rng.randint(1, 20))
        elif kind < 0.75:
            (folder / f"f{i}.h").write_text(f"#pragma once\nint f{i}(int);\n" * rng.randint(1, 10))
        elif kind < 0.95:
            (folder / f"f{i}.txt").write_text("lorem ipsum dolor sit amet\n" * rng.randint(1, 40))
        elif kind < 0.999:
            (folder / f"Makefile.{i}.mk").write_text("CFLAGS += -O2 -mavx2\n")
        else:
            (folder / f"lib{i}.so").write_bytes(so)


def tree_size(root: Path) -> tuple[int, int]:
    files = size = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                files += 1
                size += os.path.getsize(path)
    return files, size


def best_of(command: list[str], runs: int = 3) -> tuple[float, subprocess.CompletedProcess[str]]:
    best, last = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        last = subprocess.run(command, capture_output=True, text=True, check=False)
        if last.returncode not in (0, 1):
            raise SystemExit(f"{command[0]} failed: {last.stderr.strip()[:300]}")
        best = min(best, time.perf_counter() - start)
    assert last is not None
    return best, last


def measure(label: str, root: Path, jobs: int | None) -> None:
    files, size = tree_size(root)
    armscan = shutil.which("armscan", path=os.path.dirname(sys.executable)) or "armscan"
    command = [armscan, "scan", str(root), "--json", "-", "--quiet", "--fail-on", "none", "--no-ignore"]
    if jobs:
        command += ["--jobs", str(jobs)]
    wall, proc = best_of(command)
    doc = json.loads(proc.stdout)
    print(f"{label}: {files} files, {size / 1e6:.1f} MB")
    print(f"  armscan  {wall:6.2f} s wall  {files / wall:9.0f} files/s  {size / 1e6 / wall:7.1f} MB/s  "
          f"({len(doc['findings'])} findings, {len(doc['artifacts'])} binaries, {len(doc['skipped'])} skipped)")
    rg = shutil.which("rg")
    if rg:
        patterns = [arg for p in RG_PATTERNS for arg in ("-e", p)]
        rg_cmd = [rg, "--no-ignore", "--hidden", "-c", "--no-messages", *patterns, str(root)]
        rg_wall, _ = best_of(rg_cmd)
        print(f"  rg       {rg_wall:6.2f} s wall  {files / rg_wall:9.0f} files/s  {size / 1e6 / rg_wall:7.1f} MB/s  "
              f"(armscan/rg: {wall / rg_wall:.1f}x)")
    else:
        print("  rg       not installed (apt-get install ripgrep)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="generate the tree here and keep it")
    parser.add_argument("--x86-share", type=float, default=0.05, help="share of C files with x86 code")
    args = parser.parse_args()
    print(f"cores available: {len(os.sched_getaffinity(0))}")
    if Path("/usr/include").is_dir():
        measure("/usr/include", Path("/usr/include"), args.jobs)
    root = args.keep or Path(tempfile.mkdtemp(prefix="armscan-bench-"))
    try:
        if not any(root.iterdir()):
            start = time.perf_counter()
            generate_tree(root, args.files, args.x86_share)
            print(f"(generated {args.files} files in {time.perf_counter() - start:.1f} s)")
        measure(f"generated tree ({root.name})", root, args.jobs)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
