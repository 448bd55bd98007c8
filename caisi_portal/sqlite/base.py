"""Django's SQLite backend, batching bulk inserts by the connection's real variable limit.

Django 5.2 assumes SQLite's old compile-time default of 999 variables a statement, so a
fan-out of a few hundred outbox rows became a dozen INSERTs on SQLite and one on PostgreSQL.
The SQLite that Python 3.11 ships allows far more (32,766 by default; 250,000 on Debian); asking
the connection, as Django 6.0 does, keeps a burst to one statement on both databases.
"""

import sqlite3

from django.db.backends.sqlite3 import base, features
from django.utils.functional import cached_property


class DatabaseFeatures(features.DatabaseFeatures):
    @cached_property
    def max_query_params(self):
        self.connection.ensure_connection()
        return self.connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
