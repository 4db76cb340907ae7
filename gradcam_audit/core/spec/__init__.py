"""core/spec."""
