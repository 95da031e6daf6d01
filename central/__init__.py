"""Reference central exit-entry service (not shipped in the kiosk bundle)."""
