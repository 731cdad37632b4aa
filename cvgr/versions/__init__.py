"""Versions of results/: snapshots with DVC and git, restore, and the difference of two."""
