"""Time and peak memory of armscan on every hostile case (fixtures/hostile), against the targets.

    python benchmarks/hostile.py [NAME-SUBSTRING ...] [--limit SECONDS]

Each case runs in a process of its own so that its peak memory is its own. Prints one row a case: the exit
code (and the one expected), wall seconds, peak MB of armscan and its workers, leaks, and whether it meets the
targets (under 5 s, under 300 MB, the expected exit code, no leak); then the totals.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixtures.hostile import all_cases
from fixtures.hostile.runner import run_case

MAX_SECONDS, MAX_MB = 5.0, 300.0


def one(name: str, limit: float) -> None:
    with tempfile.TemporaryDirectory(prefix="armscan-hostile-") as folder:
        outcome = run_case(all_cases()[name], Path(folder), time_limit=limit)
    print(json.dumps({"exit": outcome.exit_code, "seconds": outcome.seconds, "peak_mb": outcome.peak_mb,
                      "leaks": list(outcome.leaks), "traceback": "Traceback" in outcome.stderr}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="run only cases whose name contains one of these")
    parser.add_argument("--limit", type=float, default=120.0, help="kill a case after this many seconds")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.limit)
        return 0
    cases = [c for name, c in all_cases().items() if not args.names or any(n in name for n in args.names)]
    failures = 0
    print(f"{'case':44} {'item':>4} {'exit':>6} {'seconds':>8} {'peak MB':>8}  verdict")
    for case in cases:
        proc = subprocess.run([sys.executable, __file__, "--one", case.name, "--limit", str(args.limit)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{case.name:44} {case.item:>4}  harness failed: {proc.stderr.strip().splitlines()[-1:]}")
            failures += 1
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        problems = []
        if row["exit"] != case.exit_code:
            problems.append(f"exit {row['exit']}, expected {case.exit_code}")
        if row["seconds"] > MAX_SECONDS:
            problems.append("slow")
        if row["peak_mb"] > MAX_MB:
            problems.append("memory")
        if row["leaks"]:
            problems.append("leaks to " + ", ".join(row["leaks"]))
        if row["traceback"]:
            problems.append("traceback")
        failures += bool(problems)
        print(f"{case.name:44} {case.item:>4} {row['exit']!s:>6} {row['seconds']:>8.2f} {row['peak_mb']:>8.0f}  "
              f"{'; '.join(problems) or 'ok'}")
    print(f"{len(cases)} cases, {len(cases) - failures} within the targets, {failures} not")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
