"""Release comparison: a candidate run's cases compared with a baseline run's."""
