"""Device layer: protocols (typed requests/results, status enums), errors, drivers, simulators.

Only the protocol modules (``devices.base``, ``devices.idcard``, ``devices.printer``, ...) are
meant for the application core. Drivers and simulators are reached by name through
``devices.registry`` so the core never imports them.
"""
