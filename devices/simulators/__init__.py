"""Protocol-faithful device simulators over real transports (see ``devices.registry``)."""
