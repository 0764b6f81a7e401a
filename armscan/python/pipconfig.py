"""Which package indexes to ask: command line, then requirement-file options, then pip's environment and config."""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
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


def pip_settings() -> tuple[str | None, list[str], list[str]]:
    """(index-url, extra-index-urls, find-links) from pip's config files, overridden by PIP_* variables."""
    index_url: str | None = None
    extras: list[str] = []
    find_links: list[str] = []
    for path in _config_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        index_url, extras, find_links = config_settings(text, (index_url, extras, find_links))
    if os.environ.get("PIP_INDEX_URL"):
        index_url = os.environ["PIP_INDEX_URL"].strip()
    if os.environ.get("PIP_EXTRA_INDEX_URL"):
        extras = os.environ["PIP_EXTRA_INDEX_URL"].split()
    if os.environ.get("PIP_FIND_LINKS"):
        find_links = os.environ["PIP_FIND_LINKS"].split()
    return index_url, extras, find_links


Settings = tuple[str | None, list[str], list[str]]  # index-url, extra-index-urls, find-links


def config_settings(text: str, before: Settings = (None, [], [])) -> Settings:
    """One pip.conf's settings over those of the files read before it."""
    index_url, extras, find_links = before
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return before
    for section in ("global", "install"):
        if parser.has_option(section, "index-url"):
            index_url = parser.get(section, "index-url").strip()
        if parser.has_option(section, "extra-index-url"):
            extras = parser.get(section, "extra-index-url").split()
        if parser.has_option(section, "find-links"):
            find_links = parser.get(section, "find-links").split()
    return index_url, extras, find_links


@dataclass(frozen=True)
class Sources:
    """Where packages come from: index roots, and find-links locations (flat pages or folders of files)."""

    indexes: tuple[str, ...]
    find_links: tuple[str, ...] = ()


def choose_sources(cli_index: str | None, cli_extras: list[str], cli_find_links: list[str],
                   file_settings: tuple[str | None, list[str], list[str], bool] = (None, [], [], False),
                   use_pip_config: bool = True) -> Sources:
    """The command line wins, then the requirement file's own options, then pip's environment and config."""
    file_index, file_extras, file_links, file_no_index = file_settings
    pip_index, pip_extras, pip_links = pip_settings() if use_pip_config else (None, [], [])
    links = tuple(dict.fromkeys([*cli_find_links, *file_links, *pip_links]))
    if file_no_index:
        return Sources((), links)
    if cli_index or cli_extras:
        return Sources((cli_index or PYPI, *cli_extras), links)
    if file_index or file_extras:
        return Sources((file_index or PYPI, *file_extras), links)
    return Sources((pip_index or PYPI, *pip_extras), links)
