"""Device drivers: one module per model, reached by name through devices.registry."""
