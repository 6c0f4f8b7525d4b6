"""Tree lean: temperature-compensated baselines, residual lean, steps, trends, failure."""
