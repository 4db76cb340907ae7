"""Plain-text outputs: the terminal summary, JUnit properties and the Markdown summary."""
