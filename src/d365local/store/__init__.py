"""SQL persistence (SQLite by default, PostgreSQL when asked) behind the domain's storage ports."""
