"""Alembic environment: migrations run on a connection the gateway hands over (inside its
own transaction and, on PostgreSQL, its advisory lock), or on ``CENTRAL_DB`` when run from
the alembic command line."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from central.store.db import database_url
from central.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is not None:
    context.configure(connection=connection, target_metadata=metadata)
    context.run_migrations()
else:
    engine = create_engine(database_url(os.environ["CENTRAL_DB"]))
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata)
        context.run_migrations()
