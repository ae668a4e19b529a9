"""Schemathesis against a real `antar serve`, authenticated with an API token, driven by /api/openapi.json.

Every operation of the document gets a bounded number of generated requests (valid and invalid ones); the run
must find no server error and no answer that differs from the document (status code, content type, schema), and
every invalid request must be refused. The counts are printed at the end of the pytest run (conftest.py).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import card_row, write_csv
from serving import antar, base_env, free_port, process

ST = str(Path(sys.executable).with_name("st"))
MAX_EXAMPLES = int(os.environ.get("ANTAR_FUZZ_EXAMPLES", "12"))
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "negative_data_rejection")
SUMMARY = Path(__file__).parents[1] / "browser" / "artifacts" / "schemathesis-summary.txt"


def _counts(report: dict) -> tuple[int, int, int]:
    """(operations tested, test cases generated, failures) from schemathesis's JSON run report."""
    return report["operations"]["tested"], report["test_cases"]["generated"], len(report["failures"] or [])


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(tmp_path: Path):
    # The courier is there (the simulator on loopback, webhook secret set): a 503 "courier not configured" would
    # be a server error to schemathesis, and it is not what a configured office runs.
    sim_port, port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    secret = "whsec_" + base64.b64encode(b"schemathesis-webhook-secret-0001").decode()
    env = base_env(tmp_path / "instance", ANTAR_PUBLIC_RATE_LIMIT="1000 per minute",
                   ANTAR_LOGIN_RATE_LIMIT="1000 per minute", ANTAR_COURIER_BASE_URL=f"http://127.0.0.1:{sim_port}/",
                   ANTAR_COURIER_API_TOKEN="sim-token", ANTAR_COURIER_WEBHOOK_SECRETS=secret,
                   ANTAR_COURIER_RETRIES="0", ANTAR_NOTIFY_WEBHOOK_SECRET=secret)
    antar(env, "db", "upgrade")
    antar(env, "users", "create", "staf", "--role", "staff")
    antar(env, "users", "create", "petugas", "--role", "officer", "--kelurahan", "32.16.06.1001")
    staff_token = antar(env, "tokens", "create", "staf", "--name", "schemathesis").stdout.strip().splitlines()[-1]
    officer_token = antar(env, "tokens", "create", "petugas", "--name", "schemathesis").stdout.strip().splitlines()[-1]
    write_csv(tmp_path / "run.csv", [card_row(i) for i in range(1, 21)])
    antar(env, "import", str(tmp_path / "run.csv"))
    antar(env, "manifests", "build", "--finalize")
    # Two runs: the officers' operations with an officer's token, all the others with a staff token.
    runs = [("staf", staff_token, ["--exclude-tag", "kelurahan"]),
            ("petugas", officer_token, ["--include-tag", "kelurahan"])]
    outputs, totals = [], [0, 0, 0]
    with process(env, "courier-sim", "--port", str(sim_port), "--target", f"{base}/api/v1/courier/events",
                 "--secret", secret, "--token", "sim-token", "--seed", "3", "--seconds-per-day", "86400",
                 log=tmp_path / "sim.log", ready_url=f"http://127.0.0.1:{sim_port}/_sim/state"), \
            process(env, "serve", "--port", str(port), "--workers", "2", log=tmp_path / "serve.log",
                    ready_url=f"{base}/readyz"):
        for who, token, selection in runs:
            report_path = tmp_path / f"st-report-{who}.json"
            proc = subprocess.run(
                [ST, "run", f"{base}/api/openapi.json", "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
                 # one worker: with several threads, hypothesis (which schemathesis drives) now and then fails
                 # inside its own lambda-source cache ("AST constructor recursion depth mismatch"), a tool error
                 "--seed", "20261203", "--workers", "1", "--generation-database", "none", "--no-shrink",
                 "--header", f"Authorization: Bearer {token}", "--suppress-health-check", "all", *selection,
                 "--report", "json", "--report-json-path", str(report_path), "--no-color", "--request-timeout", "30"],
                capture_output=True, text=True, timeout=600, cwd=tmp_path)
            outputs.append((who, proc))
            if report_path.exists():
                totals = [t + n for t, n in zip(totals, _counts(json.loads(report_path.read_text())), strict=True)]
        server_log = (tmp_path / "serve.log").read_text()
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"--- token of '{who}' ---\n{p.stdout}{p.stderr}\n" for who, p in outputs)
    (SUMMARY.parent / "schemathesis-output.txt").write_text(text + "\n--- server log ---\n" + server_log)
    operations, cases, failures = totals
    SUMMARY.write_text("".join(f"token of '{who}': " + " | ".join(
        line.strip() for line in p.stdout.splitlines() if line.strip().startswith(("Tested:", "Selected:"))
        or " generated" in line) + "\n" for who, p in outputs)
        + f"Antar: {operations} operations tested, {cases} test cases, {failures} failures "
          f"(max {MAX_EXAMPLES} examples per operation and phase)\n")
    assert "Traceback" not in server_log, server_log[-3000:]
    for who, proc in outputs:
        assert proc.returncode == 0, f"token of '{who}':\n" + (proc.stdout + proc.stderr)[-8000:]
    assert failures == 0 and operations >= 40 and cases > operations * 10
