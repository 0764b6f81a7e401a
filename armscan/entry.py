"""The console script: the command line is imported inside a guard, so that a broken installation (a missing
or mismatched dependency) or a Ctrl-C during start-up exits 3, "could not complete", never 1, "findings"."""

from __future__ import annotations

import sys

EXIT_INCOMPLETE = 3


def main() -> None:
    try:
        from armscan.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(EXIT_INCOMPLETE)
    except Exception as e:
        sys.stderr.write(f"error: cannot start: {type(e).__name__}: {e} (is the installation complete?)\n")
        sys.exit(EXIT_INCOMPLETE)
    cli_main()
