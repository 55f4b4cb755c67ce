"""Market-data feeds of paper sessions (live, simulated-live and replay) and the market clock.

See :mod:`core.feeds.base` for the interface and the timestamp convention.
"""

from core.feeds.base import FEED_KINDS, LABEL_CONVENTION, TIMEFRAMES, BarSet, Feed, FeedStatus

__all__ = ["FEED_KINDS", "LABEL_CONVENTION", "TIMEFRAMES", "BarSet", "Feed", "FeedStatus"]
