"""Application core: configuration, flows (state machines), services and the CLI.

Never imports Qt, device drivers or simulators (enforced by import-linter in CI).
"""

__version__ = "0.1.0"
