"""Synthetic A-share universes in every layout users keep real data in."""
