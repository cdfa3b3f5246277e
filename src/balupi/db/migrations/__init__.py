"""Alembic's scripts for BaluPi's database; run them through ``balupi.db.migrate``."""
