"""Tree sway: burst spectra, in-band RMS, dominant frequency and its drop."""
