"""Reports over the registry (contractor assessment)."""
