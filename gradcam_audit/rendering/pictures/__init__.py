"""Pictures for the reports: overlays drawn from heatmaps, and the one door through which picture files enter a report."""
