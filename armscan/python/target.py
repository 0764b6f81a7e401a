"""The Python platform a migration targets, and the wheel tags it accepts (as pip does for --platform)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from packaging import tags
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
# Oldest glibc a manylinux tag names for aarch64: manylinux2014 (2.17) was the first with aarch64.
_OLDEST_AARCH64_GLIBC = 17


@dataclass(frozen=True)
class PythonTarget:
    """CPython on Linux/aarch64 with a given Python version and C library."""

    python_version: tuple[int, int] = field(default_factory=lambda: (sys.version_info[0], sys.version_info[1]))
    libc: str = "glibc"  # or "musl"
    libc_version: tuple[int, int] = (2, 34)
    arch: str = "aarch64"

    def describe(self) -> str:
        libc = f"{self.libc} {self.libc_version[0]}.{self.libc_version[1]}"
        return f"CPython {self.python_version[0]}.{self.python_version[1]}, Linux {self.arch}, {libc}"

    @cached_property
    def platforms(self) -> tuple[str, ...]:
        """Platform tags, most specific first, exactly those a target system's pip accepts."""
        major, minor = self.libc_version
        result: list[str] = []
        if self.libc == "musl":
            result.extend(f"musllinux_{major}_{m}_{self.arch}" for m in range(minor, -1, -1))
        else:
            for m in range(minor, _OLDEST_AARCH64_GLIBC - 1, -1):
                result.append(f"manylinux_{major}_{m}_{self.arch}")
                legacy = _LEGACY_MANYLINUX.get((major, m))
                if legacy:
                    result.append(f"{legacy}_{self.arch}")
        result.append(f"linux_{self.arch}")
        return tuple(result)

    @cached_property
    def supported_tags(self) -> frozenset[tags.Tag]:
        interpreter = f"cp{self.python_version[0]}{self.python_version[1]}"
        found = list(tags.cpython_tags(python_version=self.python_version, platforms=self.platforms))
        found.extend(tags.compatible_tags(python_version=self.python_version, interpreter=interpreter,
                                          platforms=self.platforms))
        return frozenset(found)

    def accepts(self, wheel_tags: frozenset[tags.Tag]) -> bool:
        return not self.supported_tags.isdisjoint(wheel_tags)

    def allows_python(self, requires_python: str | None) -> bool:
        if not requires_python:
            return True
        return _python_allowed(requires_python, self.python_version)

    def marker_environment(self) -> dict[str, str]:
        version = f"{self.python_version[0]}.{self.python_version[1]}"
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{version}.0",
            "os_name": "posix",
            "platform_machine": self.arch,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": f"{version}.0",
            "python_version": version,
            "sys_platform": "linux",
        }


def is_pure(wheel_tags: frozenset[tags.Tag]) -> bool:
    return all(t.abi == "none" and t.platform == "any" for t in wheel_tags)


@lru_cache(maxsize=4096)
def _python_allowed(requires_python: str, version: tuple[int, int]) -> bool:
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return True  # pip ignores an invalid data-requires-python too
    return spec.contains(Version(f"{version[0]}.{version[1]}.0"), prereleases=True)
