"""Errbot's core plugins are built into errbotd; what plugins import from them is here."""
