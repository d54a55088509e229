"""Literals of the gold layer, named once."""

from medley import eventsim

UNKNOWN_KEY = -1                    # surrogate key of every dimension's unknown member
LISTEN_PAGE = eventsim.LISTEN_PAGE
CANCEL_PAGE = eventsim.CANCEL_PAGE
ERROR_STATUS_MIN = 400              # a page request with this HTTP status or above failed
UPGRADE, DOWNGRADE = "upgrade", "downgrade"
MINUTES_PER_DAY = 24 * 60
# The hours of the day (start inclusive) at which each part of the day begins.
DAY_PARTS = ((0, "night"), (6, "morning"), (12, "afternoon"), (18, "evening"))
