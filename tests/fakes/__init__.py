"""Test doubles that stand in for remote model providers (real loopback servers, canned replies)."""
