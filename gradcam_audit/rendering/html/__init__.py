"""The HTML report, its charts and templates, and the PDF dossier printed from HTML."""
