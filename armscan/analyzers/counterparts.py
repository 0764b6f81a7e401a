"""Does an x86-specific file have an aarch64 counterpart beside it (foo_sse2.c next to foo_neon.c)?"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable
from functools import lru_cache

from armscan.sources.confined import open_confined

_SPLIT = re.compile(r"[^a-z0-9]+")
_X86_TOKEN = re.compile(r"x8664|x86|x64|amd64|i[3-6]86|ia32|intel|sse\d*|ssse3|avx\w*|mmx|x86asm|nasm|yasm")
_ARM_TOKEN = re.compile(r"aarch64|arm64|armv\d\w*|arm|neon|sve\d?|asimd|arm32|thumb\d?")
# Per-platform folders of prebuilt binaries: node-gyp-build and prebuildify (prebuilds/linux-x64/), sharp
# (linuxmusl-arm64v8), napi-rs and cmake-ts (build/linux/arm64/ is not matched: its OS is a folder up).
_PLATFORM_FOLDER = re.compile(
    r"^(?P<os>linux(?:glibc|musl)?|darwin|macos|osx|mac|win32|win64|windows|freebsd|openbsd|netbsd|android|sunos|aix)"
    r"[-_](?P<arch>x64|x86[-_]64|amd64|ia32|x86|i[3-6]86|arm64(?:v8)?|aarch64|arm(?:v[67]l?)?|armhf|ppc64(?:le)?|"
    r"s390x|riscv64|mips64el|loong64)$")
_LINUX_ARM64_ARCHES = frozenset({"arm64", "arm64v8", "aarch64"})
_X86_ARCHES = frozenset({"x64", "x86_64", "x86-64", "amd64", "ia32", "x86", "i386", "i486", "i586", "i686"})
_OS_TOKENS = {"linux": "linux", "linuxglibc": "linux", "linuxmusl": "linux", "darwin": "macos", "macos": "macos",
              "osx": "macos", "mac": "macos", "win32": "windows", "win64": "windows", "windows": "windows",
              "win": "windows", "freebsd": "freebsd", "android": "android"}
_KNOWN_EXTENSIONS = re.compile(r"\.(?:c|h|cc|cpp|cxx|hpp|hh|s|asm|nasm|yasm|go|rs|inc|inl|mm?)$", re.I)


def _tokens(name: str) -> list[str]:
    lowered = name.lower().replace("x86_64", "x8664").replace("x86-64", "x8664")
    return [t for t in _SPLIT.split(lowered) if t]


# Folders that hold another architecture's code (simd/mips64/, loongarch/, arch/powerpc/): aarch64 builds do not
# compile it, and its SIMD (Loongson MMI, LoongArch LSX, AltiVec emulating __m128i) is not x86 code either.
_OTHER_ARCH_FOLDER = re.compile(
    r"mips(?:32|64)?(?:el|r\d)?|loongarch(?:32|64)?|loong64|loongson|powerpc(?:64)?(?:le)?|ppc(?:32|64)?(?:le)?"
    r"|altivec|vsx|s390x?|zarch|riscv(?:32|64)?|rvv|sparc(?:64|v9)?|wasm(?:32|64)?|e2k|lsx|lasx")


def in_other_arch_folder(relative_path: str) -> bool:
    """Whether a folder on the path (relative to the scanned tree) is named for another architecture."""
    folders = relative_path.replace("\\", "/").split("/")[:-1]
    return any(_OTHER_ARCH_FOLDER.fullmatch(folder.lower()) for folder in folders)


def is_x86_named(name: str) -> bool:
    return any(_X86_TOKEN.fullmatch(t) for t in _tokens(name))


def is_arm_named(name: str) -> bool:
    return any(_ARM_TOKEN.fullmatch(t) for t in _tokens(name))


def base_name(name: str) -> str:
    """The name without its extension, architecture words and numbers: mix_sse2.c -> mix."""
    stem = _KNOWN_EXTENSIONS.sub("", name)
    return "_".join(
        t for t in _tokens(stem) if not (_X86_TOKEN.fullmatch(t) or _ARM_TOKEN.fullmatch(t) or t.isdigit())
    )


def platform_folder(path: str) -> tuple[str, str] | None:
    """(OS, architecture) of the per-platform folder a file sits in (`prebuilds/darwin-x64/x.node`), if any."""
    folder = path.replace("!", "/").rstrip("/").rsplit("/", 2)[-2:-1]
    match = _PLATFORM_FOLDER.match(folder[0].lower()) if folder else None
    return (match.group("os"), match.group("arch").replace("_", "-").replace("x86-64", "x86_64")) if match else None


def never_loaded_on_linux_arm64(path: str) -> bool:
    """A binary in another platform's prebuilt folder (prebuilds/darwin-x64/, prebuilds/linux-arm/): a package
    loads the one for the platform it runs on, so on linux/arm64 this one is never used."""
    platform = platform_folder(path)
    if platform is None:
        return False
    os_name, arch = platform
    return not os_name.startswith("linux") or arch not in _X86_ARCHES | _LINUX_ARM64_ARCHES


def linux_arm64_counterpart(path: str, names_in: Callable[[str], Iterable[str]]) -> bool:
    """For a file in a linux x86 prebuilt folder (prebuilds/linux-x64/node.napi.node): whether the linux/arm64
    folder beside it (linux-arm64/, linux_aarch64/, ...) holds the same build, named alike but for the
    architecture (node.napi.armv8.node). `names_in` lists the file names of a folder."""
    platform = platform_folder(path)
    if platform is None or not platform[0].startswith("linux") or platform[1] not in _X86_ARCHES:
        return False
    head, _, name = path.rpartition("/")
    parent, _, folder = head.rpartition("/")
    os_part = folder[: folder.lower().index(platform[0]) + len(platform[0])]
    base = base_name(name)
    for arch in ("arm64", "aarch64", "arm64v8"):
        for sep in "-_":
            candidate = f"{parent}/{os_part}{sep}{arch}" if parent else f"{os_part}{sep}{arch}"
            if any(base_name(other) == base for other in names_in(candidate)):
                return True
    return False


def _os_family(name: str) -> str | None:
    return next((_OS_TOKENS[t] for t in _tokens(name) if t in _OS_TOKENS), None)


class Siblings:
    """What lies next to a file: names in its folder and in the folders beside that folder."""

    def __init__(self, path: str, root: str | None = None) -> None:
        self.directory = os.path.dirname(path)
        # the scanned tree: folders at or above its top are not the project's (a temporary folder's neighbours)
        self.root = os.path.normpath(root) if root else None

    def names(self) -> tuple[str, ...]:
        return _list(self.directory)

    def _inside(self, folder: str) -> bool:
        """Whether a folder is the project's: strictly inside the scanned tree, when that is known."""
        return self.root is None or folder.startswith(self.root + os.sep)

    @property
    def folder_name(self) -> str:
        """The name of this file's folder, or "" when the folder is the top of the scanned tree (or above)."""
        return os.path.basename(self.directory) if self._inside(self.directory) else ""

    def nearby_folders(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        parent = os.path.dirname(self.directory)
        if not self._inside(self.directory):
            return ()
        result = []
        for entry in _list(parent):
            full = os.path.join(parent, entry)
            if full != self.directory and os.path.isdir(full) and not os.path.islink(full):
                result.append((entry, _list(full)))
        return tuple(result)

    def arm_folder_nearby(self, levels: int = 2) -> bool:
        """Whether a folder named for ARM sits beside this folder or beside one of its parents, `levels` up
        (silk/float/x86/ and silk/arm/)."""
        folder = self.directory
        for _ in range(levels):
            parent = os.path.dirname(folder)
            if parent == folder or not self._inside(folder):
                return False
            if any(is_arm_named(entry) and os.path.isdir(os.path.join(parent, entry)) for entry in _list(parent)
                   if os.path.join(parent, entry) != folder):
                return True
            folder = parent
        return False

    def read_head(self, name: str, size: int = 4096) -> str:
        """The start of a regular file in this folder (never a FIFO, nor through a link out of the folder)."""
        try:
            with open_confined(os.path.join(self.directory, name), os.path.realpath(self.directory)) as fh:
                return fh.read(size).decode("utf-8", "replace")
        except OSError:
            return ""


@lru_cache(maxsize=4096)
def _list(directory: str) -> tuple[str, ...]:
    try:
        return tuple(sorted(os.listdir(directory)))
    except OSError:
        return ()


def forget_listings() -> None:
    _list.cache_clear()


def is_aarch64_binary(path: str, region: str) -> bool:
    """Whether the file at `path` is a binary for aarch64, read from its header. A link is followed only to a
    file inside `region` (the folders a counterpart is looked for in); FIFOs and devices are not read."""
    from armscan.binary.headers import HEAD_SIZE, HeaderError, classify

    real, inside = os.path.realpath(path), os.path.realpath(region)
    if not real.startswith(inside.rstrip(os.sep) + os.sep):
        return False
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        header = classify(os.read(fd, HEAD_SIZE))
    except (OSError, HeaderError):
        return False
    finally:
        os.close(fd)
    return header is not None and "aarch64" in header.machines


def has_arm_counterpart(name: str, siblings: Siblings, *, require_x86_name: bool = True,
                        binary: bool = False) -> bool:
    """True when a file named for ARM with the same base name sits beside this one.

    With require_x86_name (the default), only a file or folder named for x86 can have a counterpart,
    so that a generic crc32.c is not taken as ported because crc32_neon.c exists. With `binary`, the
    counterpart must be an aarch64 binary, not just a file of that name.
    """
    parent = os.path.dirname(siblings.directory)

    def usable(path: str) -> bool:
        return not binary or is_aarch64_binary(path, parent)

    folder = siblings.folder_name
    if require_x86_name and not (is_x86_named(name) or is_x86_named(folder)):
        return False
    base = base_name(name)
    for other in siblings.names():
        if (other != name and is_arm_named(other) and base_name(other) == base
                and usable(os.path.join(siblings.directory, other))):
            return True
    if not binary and is_x86_named(folder) and platform_folder(f"{folder}/-") is None \
            and siblings.arm_folder_nearby():
        return True  # per-architecture source folders (celt/x86/ beside celt/arm/): each build takes its own
    if is_x86_named(folder) or not require_x86_name:
        # linux-x64/ is not ported by darwin-arm64/ nor linux-arm/: a counterpart folder names the same OS, if the
        # folder names one, and a platform folder names a 64-bit ARM architecture
        os_family = _os_family(folder)
        for folder_name, names in siblings.nearby_folders():
            platform = platform_folder(f"{folder_name}/-")
            if (is_arm_named(folder_name) and _os_family(folder_name) == os_family
                    and (platform is None or platform[1] in _LINUX_ARM64_ARCHES)
                    and any(base_name(n) == base and usable(os.path.join(parent, folder_name, n))
                            for n in names)):
                return True
    return False
