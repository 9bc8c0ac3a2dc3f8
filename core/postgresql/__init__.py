"""Django's PostgreSQL engine for a database reached through a transaction-mode pooler (PgBouncer).

settings.py selects it when DATABASE_DIRECT_URL is set: DATABASE_URL then points at the pooler, and this engine
creates and drops databases (the test database) over a direct connection to PostgreSQL (`DIRECT`: host, port,
user, password of DATABASE_DIRECT_URL). Everything else is Django's engine as it is.
"""
