"""Which package indexes to ask: command line, then requirement-file options, then pip's environment and config."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

PYPI = "https://pypi.org/simple/"


def _config_files() -> list[Path]:
    explicit = os.environ.get("PIP_CONFIG_FILE")
    if explicit:
        return [] if explicit == os.devnull else [Path(explicit)]
    home = Path.home()
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs] + [Path("/etc/pip.conf")]
    files += [home / ".pip" / "pip.conf",
              Path(os.environ.get("XDG_CONFIG_HOME", home / ".config")) / "pip" / "pip.conf"]
    if os.environ.get("VIRTUAL_ENV"):
        files.append(Path(os.environ["VIRTUAL_ENV"]) / "pip.conf")
    return files


def pip_settings() -> tuple[str | None, list[str]]:
    """(index-url, extra-index-urls) from pip's config files, overridden by PIP_* environment variables."""
    index_url: str | None = None
    extras: list[str] = []
    for path in _config_files():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in ("global", "install"):
            if parser.has_option(section, "index-url"):
                index_url = parser.get(section, "index-url").strip()
            if parser.has_option(section, "extra-index-url"):
                extras = parser.get(section, "extra-index-url").split()
    if os.environ.get("PIP_INDEX_URL"):
        index_url = os.environ["PIP_INDEX_URL"].strip()
    if os.environ.get("PIP_EXTRA_INDEX_URL"):
        extras = os.environ["PIP_EXTRA_INDEX_URL"].split()
    return index_url, extras


def choose_indexes(cli_index: str | None, cli_extras: list[str], file_index: str | None,
                   file_extras: list[str], use_pip_config: bool = True) -> list[str]:
    if cli_index or cli_extras:
        return [cli_index or PYPI, *cli_extras]
    if file_index or file_extras:
        return [file_index or PYPI, *file_extras]
    if use_pip_config:
        index, extras = pip_settings()
        return [index or PYPI, *extras]
    return [PYPI]
