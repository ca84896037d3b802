"""The web face: health check, the family's pages, calendar files and feeds."""
