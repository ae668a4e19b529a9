"""The `antar` command's entry point (setup.cfg, console_scripts): `app.cli.main`, started with the garbage collector
paused, its database connections closed when it ends.

Start-up imports the application's modules and libraries: several hundred thousand objects, none of them garbage.
With the collector running, it would look at them about 400 times before the command begins (0.3 s of every
command's 1.5 s start, measured on `antar import --help`). Paused, then frozen (`gc.freeze`): later collections
do not look at them either. The collector runs as usual from the command's first line on.
"""

from __future__ import annotations

import gc
import sys


def run() -> None:
    gc.disable()
    try:
        from app.cli import main
    finally:
        gc.freeze()
        gc.enable()
    from app.config import ConfigError

    try:
        main()
    except ConfigError as exc:  # a setting that cannot be read: one line naming it, not a traceback
        sys.stderr.write(f"antar: {exc}\n")
        raise SystemExit(2) from None
    finally:
        _before_exit()


def _before_exit() -> None:
    """The command is done: close its database connections, then keep the interpreter's exit from looking through
    everything the command made for reference cycles (`gc.freeze`). Cleared at exit anyway, the cycles would only
    cost time: after an import of 132,554 rows, 0.3-0.4 s of the process's life, of which SQLite's checkpoint at
    close 0.09 s, which `dispose_engines` now does first (connections pooled in a cycle were otherwise closed by
    that last collection; frozen, they would stay open to the end, the log not written back). Files and temporary
    directories close through `with` blocks and `weakref.finalize`, which do not wait for the collector."""
    from app.db import dispose_engines

    dispose_engines()
    gc.freeze()
