"""Drivers for real hardware, reached by name through ``devices.registry``."""
