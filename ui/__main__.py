"""``python -m ui`` and the PyInstaller entry point."""

import sys

from ui.main import main

if __name__ == "__main__":
    sys.exit(main())
