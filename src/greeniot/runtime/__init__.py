"""Long-running processes that wire the layers together (ingest lives in greeniot.ingest)."""
