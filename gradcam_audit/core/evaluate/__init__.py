"""Turning heatmaps into evidence: region metrics, scoring, causal checks, faithfulness, gates."""
