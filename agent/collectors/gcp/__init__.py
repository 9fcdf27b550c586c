"""Inventory source `gcp`: see `collector.py` (imports its SDK) and `config.py` (does not)."""
