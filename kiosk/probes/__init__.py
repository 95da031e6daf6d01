"""Device probes for `kiosk devices probe KIND`: one module per kind, `probe(device, args)`."""
