"""Reporting: the run summary (JSON schema version 1) and its human rendering."""
