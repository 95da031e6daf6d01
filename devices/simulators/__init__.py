"""Protocol-faithful device simulators over real transports, reached through devices.registry."""
