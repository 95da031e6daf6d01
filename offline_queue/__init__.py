"""Durable outbox, sync worker and the central-system client; knows nothing of flows."""
