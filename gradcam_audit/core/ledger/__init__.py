"""The ledger: every planned case and gate with one final status, and the run's verdict."""
