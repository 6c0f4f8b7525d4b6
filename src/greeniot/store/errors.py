"""Store failures, classified the way the writer must react (after Telegraf outputs/influxdb)."""


class StoreError(Exception):
    """Base class."""


class RetryableWriteError(StoreError):
    """The whole batch may succeed later: server down, 5xx, timeout, auth not yet fixed."""


class RejectedWriteError(StoreError):
    """The server refused (part of) the batch for good: a retry would fail the same way.

    InfluxDB 1.x writes the valid points of a batch and answers 400 ``partial write`` for the
    others, so the batch must be committed, and the refusal logged and counted.
    """


class QueryError(StoreError):
    """An InfluxQL query failed; the message carries the server's error."""
