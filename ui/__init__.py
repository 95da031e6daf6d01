"""The Qt shell: the only package that imports PySide6. Screens render ``ViewState`` and emit
intents; they hold no business rules."""
