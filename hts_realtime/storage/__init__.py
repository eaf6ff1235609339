"""Storage: the embedded SQLite database."""
