"""Alembic environment: the engine comes from the application (see app/migrate.py)."""

from __future__ import annotations

from alembic import context

import address.models  # noqa: F401
import app.cards  # noqa: F401  (registers the card tables on the metadata)
import app.models  # noqa: F401
import app.tally  # noqa: F401
import delivery.models  # noqa: F401
import delivery.money_models  # noqa: F401
import manifests.models  # noqa: F401
import notify.models  # noqa: F401
import returns.models  # noqa: F401
from app.db import Base
from app.migrate import include_object

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
