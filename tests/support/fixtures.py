"""Shared pytest fixtures; each section is owned by the module it serves."""

from __future__ import annotations
