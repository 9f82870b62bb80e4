"""Evaluation metrics: SER for LMX, note F1 for MIDI, EMD between LMX histograms."""
