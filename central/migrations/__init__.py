"""Alembic migrations of the central store (run by ``central.store.migrate.prepare``, or by
``kiosk central migrate --db URL``). New revisions: ``alembic -c central/migrations/alembic.ini
revision -m "..."`` with ``CENTRAL_DB`` set to a development database."""
