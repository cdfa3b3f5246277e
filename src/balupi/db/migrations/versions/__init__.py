"""Revisions, oldest first by their numeric ids; Alembic skips this file."""
