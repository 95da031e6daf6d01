"""The terminal types, each in its own folder: its flow, service, texts and receipts."""
