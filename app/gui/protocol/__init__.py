"""The protocol's Qt windows: the participant display, the experimenter's panel, forms, audio and the run."""
