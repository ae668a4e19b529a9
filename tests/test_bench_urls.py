"""The benchmarks' fresh PostgreSQL schema (`benchmarks/bench_intake.fresh_url`, also bench_webhook's and
bench_manifests'): its URL works whether the server's URL has a query or not (a Unix socket is `?host=/run/...`)."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from benchmarks.bench_intake import fresh_url

PG_URL = os.environ.get("ANTAR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.mark.parametrize("with_query", [False, True])
def test_a_fresh_schema_is_searched_first_and_dropped_after(tmp_path, with_query):
    server = PG_URL
    if with_query:
        server = sa.engine.make_url(PG_URL).update_query_dict({"application_name": "bench_urls"}) \
            .render_as_string(hide_password=False)
    try:
        url, drop = fresh_url("postgresql", tmp_path, server)
    except sa.exc.OperationalError:  # the suite's conftest requires PostgreSQL when CI=true
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
            assert schema.startswith("bench_")
            # The server URL's own query still counts.
            name = conn.exec_driver_sql("SELECT current_setting('application_name')").scalar_one()
            assert (name == "bench_urls") == with_query
    finally:
        engine.dispose()
        drop()
    admin = sa.create_engine(server)
    with admin.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)).scalar_one() == 0
    admin.dispose()
