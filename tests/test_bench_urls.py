"""The benchmarks' fresh PostgreSQL schema (`benchmarks/bench_intake.fresh_url`, also bench_webhook's and
bench_manifests'): its URL works whether the server's URL has a query or not (a Unix socket is `?host=/run/...`)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from benchmarks.bench_intake import fresh_url
from tests.test_bench_scale_smoke import _pg

SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


@pytest.mark.skipif(not _pg(), reason="PostgreSQL at 127.0.0.1:5432 (database test) is not reachable")
@pytest.mark.parametrize("server", [SERVER, SERVER + "?application_name=bench_urls"])
def test_a_fresh_schema_is_searched_first_and_dropped_after(tmp_path, server):
    url, drop = fresh_url("postgresql", tmp_path, server)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
            assert schema.startswith("bench_")
            # The server URL's own query still counts.
            name = conn.exec_driver_sql("SELECT current_setting('application_name')").scalar_one()
            assert (name == "bench_urls") == ("?" in server)
    finally:
        engine.dispose()
        drop()
    admin = sa.create_engine(server)
    with admin.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)).scalar_one() == 0
    admin.dispose()
