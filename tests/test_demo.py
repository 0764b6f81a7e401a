"""The bundled demo project: the exact findings a user sees, and what must not be reported."""

from __future__ import annotations

from armscan.model import Severity
from tests.conftest import DEMO, scan


def test_demo_findings_exactly() -> None:
    result = scan(DEMO, display="demo")
    got = [(f.rule_id, f.location.path, f.location.line, f.severity.value, f.ported) for f in result.findings]
    wheel = "demo/wheelhouse/nativepkg-1.0-cp311-cp311-linux_x86_64.whl"
    # the benchmark is reported at its real severity, but it does not ship: its own scope
    assert [(f.location.path, f.scope) for f in result.findings if f.scope != "product"] == [
        ("demo/bench/mix_bench.c", "bench")]
    assert got == [
        ("ARM-DOCKER-PLATFORM-AMD64", "demo/Dockerfile", 1, "high", False),
        ("ARM-DOCKER-ARCH-URL", "demo/Dockerfile", 5, "high", False),
        ("ARM-BUILD-X86-ISA-FLAG", "demo/Makefile", 3, "blocker", False),
        ("ARM-BUILD-X86-MARCH", "demo/Makefile", 3, "blocker", False),
        ("ARM-C-INLINE-ASM", "demo/bench/mix_bench.c", 6, "blocker", False),
        ("ARM-ASM-X86-FILE", "demo/src/crc32_x86_64.S", 6, "blocker", False),
        ("ARM-C-INTRIN-HEADER", "demo/src/gain.c", 4, "info", True),
        ("ARM-C-INTRIN-CALL", "demo/src/gain.c", 12, "info", True),
        ("ARM-C-INTRIN-CALL", "demo/src/gain.c", 13, "info", True),
        ("ARM-C-INTRIN-HEADER", "demo/src/mixer.c", 3, "blocker", False),
        ("ARM-C-INTRIN-CALL", "demo/src/mixer.c", 9, "blocker", False),
        ("ARM-C-INTRIN-CALL", "demo/src/mixer.c", 10, "blocker", False),
        ("ARM-C-INTRIN-CALL", "demo/src/mixer.c", 11, "blocker", False),
        ("ARM-C-INLINE-ASM", "demo/src/mixer.c", 18, "blocker", False),
        ("ARM-C-ARCH-ERROR", "demo/src/platform.h", 9, "blocker", False),
        ("ARM-C-INTRIN-HEADER", "demo/src/simd/resample_sse2.c", 2, "info", True),
        ("ARM-C-INTRIN-CALL", "demo/src/simd/resample_sse2.c", 5, "info", True),
        ("ARM-GO-AMD64-ONLY", "demo/tools/checksum_amd64.go", 1, "high", False),
        ("ARM-GO-AMD64-ONLY", "demo/tools/checksum_amd64.s", 3, "high", False),
        ("ARM-BIN-ELF-X86", "demo/vendor/codec/x86_64/libcodec.so.1", None, "info", True),
        ("ARM-NODE-UPGRADE-FOR-ARM64", "demo/web/package-lock.json", 18, "high", False),
        ("ARM-NODE-SOURCE-BUILD", "demo/web/package-lock.json", 51, "medium", False),
        # one finding for the wheel, none for the x86 library inside it: replacing the wheel is the work
        ("ARM-PY-WHEEL-FILE-X86", wheel, None, "high", False),
    ]
    messages = {(f.rule_id, f.location.line): f.message for f in result.findings}
    assert messages[("ARM-C-INLINE-ASM", 18)].startswith("Inline assembly with x86 instructions or registers (rdtsc)")
    assert messages[("ARM-DOCKER-ARCH-URL", 5)].startswith(
        "Downloads https://github.com/mikefarah/yq/releases/download/v4.44.1/yq_linux_amd64, an x86-64 build")
    assert messages[("ARM-NODE-SOURCE-BUILD", 51)].endswith("Pulled in by gulp-sass.")
    assert "NEON" in next(f.advice for f in result.findings if f.rule_id == "ARM-C-INTRIN-CALL" and not f.ported)
    # without a registry to ask (the default in library use), the base image is recorded as not checked
    assert [(s.path, s.reason.value, s.detail) for s in result.skipped] == [
        ("demo/Dockerfile:1", "not-found", "base image debian:12-slim not checked for linux/arm64 (offline)")]
    assert result.complete


def test_demo_artifacts() -> None:
    result = scan(DEMO, display="demo")
    assert [(a.path.split("/", 1)[1], a.machines, a.elf.max_glibc if a.elf else None) for a in result.artifacts] == [
        ("vendor/codec/aarch64/libcodec.so.1", ("aarch64",), "2.17"),
        ("vendor/codec/x86_64/libcodec.so.1", ("x86_64",), "2.14"),
        ("wheelhouse/nativepkg-1.0-cp311-cp311-linux_x86_64.whl!nativepkg/_native.cpython-311-x86_64-linux-gnu.so",
         ("x86_64",), "2.14"),
    ]
    assert len(result.findings_at_or_above(Severity.HIGH)) == 15  # the product's: the benchmark is not counted
    assert len(result.findings_at_or_above(Severity.HIGH, every_scope=True)) == 16
