"""Faust agents (the bar engine lands here)."""
