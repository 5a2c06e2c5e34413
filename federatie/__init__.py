"""Federatie: federated collaboration for government bodies."""

__version__ = "0.1.0"
