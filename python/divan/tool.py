"""The ``divan`` command an install puts on PATH: the C tool shipped in divan/_bin (get, upsert,
mutate, load... against any Couchbase-compatible cluster; ``divan --help``). $DIVAN_TOOL, if
set, is run instead (a build tree's bin/divan)."""

import os
import sys
from pathlib import Path
from typing import NoReturn

from divan.server import _exec

__all__ = ["main"]


def main() -> NoReturn:
    env = os.environ.get("DIVAN_TOOL")
    binary = Path(env) if env else Path(__file__).resolve().parent / "_bin" / "divan"
    if not binary.is_file():
        sys.exit("divan: the divan binary is missing from this install (%s)" % binary)
    _exec(str(binary), "divan")


if __name__ == "__main__":
    main()
