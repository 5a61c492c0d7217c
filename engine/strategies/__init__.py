"""Strategies: the built-in ones and a user's own file (SPEC §3)."""
