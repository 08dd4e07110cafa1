"""Evaluation: metrics over session logs, game analysis, leaderboards, plots and reports.

Evaluation only reads logs and game folders; it never calls a model unless asked to run an
LLM judge.
"""
