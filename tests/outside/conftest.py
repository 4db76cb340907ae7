"""Shared pieces of the outside-sweep tests: the causal tests' hand-made window model."""

from __future__ import annotations

from tests.causal.conftest import window_model_file

__all__ = ["window_model_file"]
