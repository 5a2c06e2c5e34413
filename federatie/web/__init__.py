"""Quart blueprints: thin adapters that parse a request, call a service, and render."""
