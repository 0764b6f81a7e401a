"""The long fuzz pass: mutated inputs through every fuzz target (fixtures/fuzzing.py), each in a worker process.

    python benchmarks/fuzz.py [--inputs N] [--seconds S] [--target NAME ...] [--seed N] [--out FOLDER]
    python benchmarks/fuzz.py --target NAME --replay FILE      # run one saved input and show its traceback

--inputs and --seconds are totals, shared evenly by the targets; the pass stops at whichever comes first.
Each target runs in a worker of its own, fed one input at a time over a pipe: an input that takes longer than
--hang seconds is a hang (the worker is killed and started again), one that raises anything but the target's
documented errors is a crash, and one after which the worker's peak memory passes --memory MB is a memory
blow-up (the worker is started again so that the next peak is its own). Crashes count as distinct by target,
exception type and the innermost armscan frame. The first input of each distinct crash, and every hang and
memory blow-up, is written to the output folder, named after what it found.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import resource
import select
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixtures.fuzzing import Target, mutate, run, targets

HANG_SECONDS, MAX_MB = 5.0, 300.0


def _place(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "/armscan/" in f.filename] or frames
    frame = ours[-1]
    where = frame.filename.rsplit("/armscan/", 1)[-1] if "/armscan/" in frame.filename else Path(frame.filename).name
    return f"{where}:{frame.lineno} in {frame.name}"


def peak_mb() -> float:
    """This process's peak resident memory. ru_maxrss would carry the parent's peak across exec on Linux."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(name: str) -> None:
    """Run the inputs that arrive on stdin (length-prefixed); answer one JSON line each."""
    target = targets()[name]
    source, sink = sys.stdin.buffer, sys.stdout
    with tempfile.TemporaryDirectory(prefix="armscan-fuzz-") as folder:
        scratch = Path(folder)
        with contextlib.suppress(Exception):
            run(target, b"", scratch)  # imports and rules load before the first timed input
        while header := source.read(4):
            data = source.read(struct.unpack(">I", header)[0])
            answer: dict[str, object] = {}
            try:
                run(target, data, scratch)
            except RecursionError as e:
                answer = {"type": "RecursionError", "place": _place(e), "message": str(e)[:300]}
            except Exception as e:
                answer = {"type": type(e).__name__, "place": _place(e), "message": str(e)[:300]}
            answer["rss_mb"] = peak_mb()
            sink.write(json.dumps(answer) + "\n")
            sink.flush()


class Worker:
    def __init__(self, name: str) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", name], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, start_new_session=True)
        self.buffer = b""

    def send(self, data: bytes, limit: float) -> dict[str, object] | None:
        """The answer; None when the input hung; {"died": code} when the worker died on it."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(struct.pack(">I", len(data)) + data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            return {"died": self.proc.wait()}
        deadline = time.monotonic() + limit
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return {"died": self.proc.wait()}
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        answer: dict[str, object] = json.loads(line)
        return answer

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 9)
        self.proc.wait()


@dataclass
class Tally:
    inputs: int = 0
    crashes: int = 0
    hangs: int = 0
    memory: int = 0
    peak_mb: float = 0.0
    seconds: float = 0.0
    distinct: dict[str, str] = field(default_factory=dict)  # type and place -> message


def _save(out: Path, stem: str, data: bytes) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}-{hashlib.sha256(data).hexdigest()[:12]}.bin").write_bytes(data)


def fuzz(target: Target, count: int, seconds: float, seed: int, out: Path, hang: float, max_mb: float) -> Tally:
    tally = Tally()
    seeds = target.seeds()
    rng = random.Random(f"{seed}:{target.name}")
    started = time.monotonic()
    current = Worker(target.name)
    # the first answer waits for imports and rules to load: no hang limit on it
    first = current.send(b"", 120.0)
    if first is None or "died" in first:
        current.stop()
        raise RuntimeError(f"the {target.name} worker did not start")
    try:
        while tally.inputs < count and time.monotonic() - started < seconds:
            data = seeds[tally.inputs] if tally.inputs < len(seeds) else mutate(rng, target, seeds)
            tally.inputs += 1
            answer = current.send(data, hang)
            if answer is None or "died" in answer:
                current.stop()
                if answer is None:
                    tally.hangs += 1
                    _save(out, f"{target.name}-hang", data)
                else:
                    tally.crashes += 1
                    key = f"worker died (exit {answer['died']})"
                    if key not in tally.distinct:
                        tally.distinct[key] = "the process died: a crash in native code, or killed"
                        _save(out, f"{target.name}-died", data)
                current = Worker(target.name)
                current.send(b"", 120.0)
                continue
            rss = float(answer["rss_mb"])  # type: ignore[arg-type]
            tally.peak_mb = max(tally.peak_mb, rss)
            if "type" in answer:
                tally.crashes += 1
                key = f"{answer['type']} at {answer['place']}"
                if key not in tally.distinct:
                    tally.distinct[key] = str(answer["message"])
                    _save(out, f"{target.name}-{answer['type']}", data)
            if rss > max_mb:
                tally.memory += 1
                _save(out, f"{target.name}-memory", data)
                current.stop()
                current = Worker(target.name)
                current.send(b"", 120.0)
    finally:
        current.stop()
        tally.seconds = time.monotonic() - started
    return tally


def replay(name: str, path: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="armscan-fuzz-") as folder:
        started = time.monotonic()
        run(targets()[name], path.read_bytes(), Path(folder))
    print(f"no crash ({time.monotonic() - started:.2f} s, peak {peak_mb():.0f} MB)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs in all (default 100000)")
    parser.add_argument("--seconds", type=float, default=3600.0, help="time in all (default 3600)")
    parser.add_argument("--target", action="append", default=[], help="only this target (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"), help="where inputs that fail go")
    parser.add_argument("--hang", type=float, default=HANG_SECONDS, help="seconds after which an input hangs")
    parser.add_argument("--memory", type=float, default=MAX_MB, help="peak MB over which an input blows up")
    parser.add_argument("--replay", type=Path, help="run this one input through the --target and exit")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return 0
    known = targets()
    unknown = [t for t in args.target if t not in known]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if args.replay:
        if len(args.target) != 1:
            parser.error("--replay needs exactly one --target")
        return replay(args.target[0], args.replay)
    chosen = [known[name] for name in args.target] or list(known.values())
    each, budget = -(-args.inputs // len(chosen)), args.seconds / len(chosen)
    print(f"{'target':16} {'inputs':>8} {'crashes':>8} {'distinct':>8} {'hangs':>6} {'memory':>6} {'peak MB':>8} "
          f"{'seconds':>8}", flush=True)
    total = Tally()
    distinct: list[str] = []
    for target in chosen:
        tally = fuzz(target, each, budget, args.seed, args.out, args.hang, args.memory)
        print(f"{target.name:16} {tally.inputs:>8} {tally.crashes:>8} {len(tally.distinct):>8} {tally.hangs:>6} "
              f"{tally.memory:>6} {tally.peak_mb:>8.0f} {tally.seconds:>8.1f}", flush=True)
        total.inputs += tally.inputs
        total.crashes += tally.crashes
        total.hangs += tally.hangs
        total.memory += tally.memory
        total.peak_mb = max(total.peak_mb, tally.peak_mb)
        total.seconds += tally.seconds
        distinct += [f"{target.name}: {key}: {message}" for key, message in tally.distinct.items()]
    print(f"{'total':16} {total.inputs:>8} {total.crashes:>8} {len(distinct):>8} {total.hangs:>6} {total.memory:>6} "
          f"{total.peak_mb:>8.0f} {total.seconds:>8.1f}")
    for line in distinct:
        print(line)
    return 1 if distinct or total.hangs or total.memory else 0


if __name__ == "__main__":
    raise SystemExit(main())
