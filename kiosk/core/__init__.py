"""The engine room of the kiosk: flows as state machines, the runner that executes their
commands, the citizen's session, time, texts and voice. Knows no terminal type and no
configuration; everything above it builds on it."""
