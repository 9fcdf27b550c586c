"""Inventory source `aws`: see `collector.py` (imports its SDK) and `config.py` (does not)."""
