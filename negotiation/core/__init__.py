"""The rules core."""
