"""Alembic environment: uses the caller's connection when given, else the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import core.store.auth
import core.store.jobs
import core.store.live
import core.store.model_loop
import core.store.monitoring
import core.store.paper
import core.store.trading  # noqa: F401  (registers the trading tables on Base.metadata)
from core.store.models import Base

config = context.config
target_metadata = Base.metadata
# Our own version table: Optuna's RDB storage keeps its studies in the same database and
# manages its schema with Alembic's default ``alembic_version`` table.
VERSION_TABLE = "workbench_schema_version"
# Optuna's tables (and its ``alembic_version``): not ours, so autogenerate never drops them.
OPTUNA_TABLES = frozenset(
    {
        "alembic_version",
        "studies",
        "study_directions",
        "study_system_attributes",
        "study_user_attributes",
        "trial_heartbeats",
        "trial_intermediate_values",
        "trial_params",
        "trial_system_attributes",
        "trial_user_attributes",
        "trial_values",
        "trials",
        "version_info",
    }
)


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave Optuna's tables out of autogenerate's comparison (never dropped)."""
    return not (type_ == "table" and reflected and compare_to is None and name in OPTUNA_TABLES)


def run_migrations() -> None:
    """Run migrations online (a live connection)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            version_table=VERSION_TABLE,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=True,
            version_table=VERSION_TABLE,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
