"""Jembatan gateway."""
