"""The central gateway: the bureau's edge service the kiosks sync to (signed HTTP API on
FastAPI and uvicorn, a store on SQLite or PostgreSQL). Not shipped in the kiosk bundle;
imports nothing of the kiosk. API: docs/central-openapi.json; design: docs/sync.md and
docs/architecture.md, "The central gateway"."""
