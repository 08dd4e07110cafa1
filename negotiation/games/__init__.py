"""Game folders."""
