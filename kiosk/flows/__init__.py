"""Flows: explicit state machines that react to events and emit commands.

No Qt, no sleeping and no driver calls in here: a runner executes the commands through services
and feeds results back as events.
"""
