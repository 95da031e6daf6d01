"""``python -m central serve | migrate | maintain``: see central/cli.py."""

from __future__ import annotations

import sys

from central.cli import main

sys.exit(main())
