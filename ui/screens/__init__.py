"""Screens: each renders one kind of ViewState and emits the citizen's intents."""
