"""Image analysis speed and memory: a generated image of about 1 GB, beside `gzip -dc` of the same layers.

Usage: python benchmarks/image_stream.py [--size-mb 1024] [--rootfs TAR] [--jar-mb 60]
Builds an OCI layout in a temporary folder: four gzip layers holding many small files (text, configs) and
some large x86-64 ELF binaries (a real fixture binary padded to tens of MB), one fat JAR of --jar-mb MB (classes
and native libraries for several platforms), and with --rootfs a real root file system as the base layer (e.g.
a Debian bookworm one made by `mmdebstrap --variant=minbase --mode=fakechroot --format=tar bookworm FILE`), then
times
`armscan image oci:DIR:bench --no-index --offline` and `gzip -dc` over the same layer blobs, and reads the
armscan process's peak memory. Target: within 1.5x of gzip's time, peak memory under 300 MB. Prints figures,
asserts nothing.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fixtures.images.build import GZIP_LAYER, OCI_CONFIG, OCI_MANIFEST, Layout  # noqa: E402

MB = 1024 * 1024


def _layer(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _fat_jar(size_mb: int, rng: random.Random) -> bytes:
    """A Spring-style fat JAR: compressed class files and, stored, native libraries for several platforms."""
    import zipfile

    x86 = (REPO / "fixtures" / "bin" / "libmix-x86_64.so").read_bytes()
    arm = (REPO / "fixtures" / "bin" / "libmix-aarch64.so").read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        for platform, body in (("linux-x86_64", x86), ("linux-aarch64", arm), ("osx-x86_64", x86),
                               ("windows-x86_64", x86)):
            jar.writestr(zipfile.ZipInfo(f"native/{platform}/libfast.so"), body + bytes(2 * MB))
        written, i = 0, 0
        while written < size_mb * MB:
            data = bytes(rng.getrandbits(8) for _ in range(512)) * rng.randint(8, 64)
            jar.writestr(f"com/example/app/C{i}.class", data, compress_type=zipfile.ZIP_DEFLATED)
            written += len(data)
            i += 1
    return buffer.getvalue()


def generate(root: Path, size_mb: int, rootfs: Path | None = None, jar_mb: int = 60) -> list[Path]:
    rng = random.Random(7)
    elf = (REPO / "fixtures" / "bin" / "hello-x86_64").read_bytes()
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10))) for _ in range(4000)]
    budget = size_mb * MB
    layers: list[bytes] = []
    big_total = int(budget * 0.6)
    per_big = 24 * MB
    bigs = []
    for i in range(max(1, big_total // per_big)):
        # a real ELF header, then half-compressible bytes, like code and data sections
        body = bytearray(elf)
        chunk = bytes(rng.getrandbits(8) for _ in range(4096))
        while len(body) < per_big:
            body += chunk[: rng.randint(1024, 4096)] + bytes(2048)
        bigs.append((f"opt/app/lib/libbig{i}.so", bytes(body[:per_big])))
    small_total = budget - big_total
    smalls = []
    size = 0
    i = 0
    while size < small_total:
        text = b" ".join(rng.choice(words) for _ in range(rng.randint(200, 3000))) + b"\n"
        smalls.append((f"usr/share/app/{i // 1000}/file{i}.txt", text))
        size += len(text)
        i += 1
    half = len(smalls) // 2
    if rootfs is not None:
        layers.append(rootfs.read_bytes())
    for members in (bigs[: len(bigs) // 2], bigs[len(bigs) // 2:], smalls[:half], smalls[half:]):
        layers.append(_layer(members))
    if jar_mb:
        layers.append(_layer([("app/lib/app-fat.jar", _fat_jar(jar_mb, rng))]))
    layout = Layout(root)
    descriptors = [layout.put(gzip.compress(layer, compresslevel=6, mtime=0), GZIP_LAYER) for layer in layers]
    config = layout.put(b'{"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}',
                        OCI_CONFIG)
    manifest = layout.put(json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                                      "layers": descriptors}).encode(), OCI_MANIFEST)
    layout.tag(manifest, "bench")
    layout.write_index()
    print(f"generated: {len(bigs)} binaries of {per_big // MB} MB, {i} text files; "
          f"{sum(len(x) for x in layers) / MB:.0f} MB uncompressed, "
          f"{sum(int(str(d['size'])) for d in descriptors) / MB:.0f} MB compressed")
    return [root / "blobs" / "sha256" / str(d["digest"]).split(":")[1] for d in descriptors]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rootfs", type=Path, help="a root file system tar to use as the base layer")
    parser.add_argument("--jar-mb", type=int, default=60, help="size of the fat JAR layer (0: none)")
    parser.add_argument("--generate-into", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_into:
        for blob in generate(Path(args.generate_into), args.size_mb, args.rootfs, args.jar_mb):
            print(f"blob {blob}")
        return
    work = Path(tempfile.mkdtemp(prefix="armscan-imgbench-"))
    try:
        # generated in another process, so that this one stays small and its children's memory is their own
        made = subprocess.run([sys.executable, __file__, "--size-mb", str(args.size_mb), "--jar-mb", str(args.jar_mb),
                               *(["--rootfs", str(args.rootfs)] if args.rootfs else []), "--generate-into",
                               str(work / "layout")], capture_output=True, text=True, check=True)
        print("\n".join(line for line in made.stdout.splitlines() if not line.startswith("blob ")))
        blobs = [Path(line[5:]) for line in made.stdout.splitlines() if line.startswith("blob ")]
        start = time.perf_counter()
        for blob in blobs:
            subprocess.run(["gzip", "-dc", str(blob)], stdout=subprocess.DEVNULL, check=True)
        gzip_s = time.perf_counter() - start
        armscan = shutil.which("armscan", path=os.path.dirname(sys.executable)) or "armscan"
        start = time.perf_counter()
        child = subprocess.Popen([armscan, "image", f"oci:{work / 'layout'}:bench", "--no-index", "--offline",
                                  "--json", str(work / "out.json"), "-q", "--fail-on", "none"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        armscan_s = time.perf_counter() - start
        peak_mb = usage.ru_maxrss / 1024
        stderr = child.stderr.read() if child.stderr else ""
        proc = subprocess.CompletedProcess(child.args, os.waitstatus_to_exitcode(status), "", stderr)
        print(f"gzip -dc: {gzip_s:.2f} s; armscan image: {armscan_s:.2f} s ({armscan_s / gzip_s:.2f}x), "
              f"peak memory {peak_mb:.0f} MB, exit {proc.returncode} {proc.stderr.strip()[:200]}")
    finally:
        if os.environ.get("KEEP"):
            print(work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
