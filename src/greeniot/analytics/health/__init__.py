"""Device health: offline, battery, stuck, noisy and out-of-range sensors."""
