"""Sub-commands of the ``kiosk`` CLI, one module per area (each terminal type keeps its own
in its folder)."""
