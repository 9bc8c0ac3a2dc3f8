"""The engine: Django's PostgreSQL backend, with databases created and dropped over a direct connection.

CREATE DATABASE and DROP DATABASE need a session on PostgreSQL itself: through the pooler, DROP DATABASE fails while
the pooler keeps idle server connections to the database (`is being accessed by other users`), and a database the
pooler does not know yet cannot be reached to be dropped.
"""

from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base

from .creation import DatabaseCreation


class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation

    def direct_settings(self) -> dict:
        """This database's settings with PostgreSQL's own address instead of the pooler's."""
        return {**self.settings_dict, **self.settings_dict.get("DIRECT", {})}

    def _nodb_cursor(self):
        """A cursor on the `postgres` database of the server itself (test database creation and deletion)."""
        if self.alias == NO_DB_ALIAS:
            return super()._nodb_cursor()
        direct = base.DatabaseWrapper({**self.direct_settings(), "NAME": None}, alias=NO_DB_ALIAS)
        return direct._nodb_cursor()
