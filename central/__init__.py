"""Reference central exit-entry service: a small signed HTTP API over SQLite used by the
demo, the tests and the benchmarks. Not shipped in the kiosk bundle; imports nothing of the
kiosk (see docs/central-openapi.json for the API)."""
