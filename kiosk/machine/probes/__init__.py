"""Hands-on device probes for ``kiosk devices probe KIND``: module ``kiosk.machine.probes.<kind>``
offers ``probe(device, args) -> dict`` (JSON-able) and works through the kind's protocol."""
