"""This machine's parts that every terminal type shares: its devices (each on its own
worker), the outbox and sync worker, the link to central, and staff alerts."""
