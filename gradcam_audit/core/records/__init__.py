"""Plain records of what an audit computed: checks, case results, baseline comparisons."""
