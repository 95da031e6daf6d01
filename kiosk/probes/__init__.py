"""Device probes for ``kiosk devices probe``: one module per device kind."""
