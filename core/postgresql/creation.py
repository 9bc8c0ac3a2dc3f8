from django.db.backends.postgresql.creation import DatabaseCreation as PostgresCreation


class DatabaseCreation(PostgresCreation):
    def _destroy_test_db(self, test_database_name, verbosity):
        # The pooler still holds idle server connections to the test database: FORCE ends them (PostgreSQL 13+).
        self.connection.close_pool()
        with self._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE {self.connection.ops.quote_name(test_database_name)} WITH (FORCE)")
