"""Articles: reading files and pages, cutting them into passages, adding them from the web."""
