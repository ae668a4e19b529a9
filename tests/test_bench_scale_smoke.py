"""benchmarks/bench_scale.py at 1,000 cards on PostgreSQL: every stage runs through the real code paths, the
reconciliation balances, every page and webhook post it explains answers 200 and every captured statement gets a plan.

A schema of its own per run (never the benchmark's `bench_scale`), dropped at the end. Skipped without PostgreSQL.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest


def _pg() -> bool:
    try:
        psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


@pytest.mark.skipif(not _pg(), reason="PostgreSQL at 127.0.0.1:5432 (database test) is not reachable")
def test_scale_benchmark_smoke(tmp_path, monkeypatch) -> None:
    from benchmarks import bench_scale

    monkeypatch.setenv("ANTAR_INSTANCE_PATH", str(tmp_path / "instance"))
    results = bench_scale.run(1000, schema=f"bench_scale_smoke_{uuid.uuid4().hex[:8]}", baselines=False)

    stages = {r["stage"].split(".")[0]: r for r in results.stages}
    assert set(stages) >= {"0", "1", "2", "3", "4", "5", "6"}
    assert results.info["balanced"]
    assert stages["2"]["items"] == stages["2"]["ready_cards"] > 900
    assert stages["3"]["handed_over"] == stages["3"]["manifests"]
    assert set(stages["4"]["results"]) == {"applied"} and sum(stages["4"]["results"].values()) == stages["4"]["events"]
    assert stages["5"]["cards"] > 0
    states = results.info["states"]
    assert states["DELIVERED"] > 0 and states["WITH_COURIER"] > 0 and sum(states.values()) == 1000
    assert all(r["status"] == 200 for r in results.info["requests"]), results.info["requests"]
    plans = results.info["plans"]
    assert len(plans) > 100
    assert not [p for p in plans if not p["execution"] and p["analyzed"]]
    webhook = [p for p in plans if p["where"].startswith("courier")]
    assert webhook and any("tracking_event" in p["sql"] for p in webhook)
