"""View models: every displayed word and number of a report, formatted from the ledger's records (no verdict decided here)."""
