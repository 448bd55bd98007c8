"""The moment the dashboard tests read their figures at."""

import datetime as dt

NOW = dt.datetime(2026, 9, 15, 12, 0, tzinfo=dt.UTC)
