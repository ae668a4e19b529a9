"""What every `antar` command pays before it starts: openpyxl is imported when a sheet is made, and the `antar` script
imports the application with the garbage collector paused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from app.cli import main

ANTAR = str(Path(sys.executable).with_name("antar"))

LOADED = """
import json, sys
sys.argv = ["antar", "import", "--help"]
from app.launch import run
try:
    run()
except SystemExit:
    pass
import gc
print(json.dumps({"modules": sorted(m for m in ("openpyxl",) if m in sys.modules),
                  "collector": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def test_a_command_does_not_import_openpyxl_and_starts_with_the_collector_paused(tmp_path):
    env = {**os.environ, "ANTAR_INSTANCE_PATH": str(tmp_path / "instance"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'antar.sqlite'}"}
    out = subprocess.run([sys.executable, "-c", LOADED], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert "antar import" in out.stdout  # the command's own help was printed
    assert state["modules"] == []
    # The collector runs again once the application is imported; what start-up made stays out of its sight.
    assert state["collector"] is True and state["frozen"] > 10_000


def test_every_command_is_listed_and_runs():
    runner = CliRunner()
    listed = runner.invoke(main, ["--help"])
    assert listed.exit_code == 0, listed.output
    for name in ("demo", "courier-sim", "notify-sim", "import", "serve"):
        assert f"  {name} " in listed.output, name
    for name in ("demo", "courier-sim", "notify-sim"):
        shown = runner.invoke(main, [name, "--help"])
        assert shown.exit_code == 0 and f"Usage: main {name}" in shown.output, shown.output
    unknown = runner.invoke(main, ["demoo"])
    assert unknown.exit_code == 2 and "No such command 'demoo'" in unknown.output


def test_the_antar_script_starts_the_application():
    out = subprocess.run([ANTAR, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "Antar: pengiriman e-KTP" in out.stdout, out.stderr
