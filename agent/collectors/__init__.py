"""Inventory sources (collectors) and the runner that fans their scopes out."""
