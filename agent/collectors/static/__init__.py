"""Inventory source `static`: see `collector.py` (imports its SDK) and `config.py` (does not)."""
