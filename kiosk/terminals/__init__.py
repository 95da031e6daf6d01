"""The terminal types, one folder each (its flow, ports, services, texts, receipts, CLI and
scripted citizen, and one descriptor in terminal.py), listed in registry.py."""
