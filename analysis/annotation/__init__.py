"""Coding micro-expressions: the Qt-free annotation model, its catalog store, exchange formats,
inter-coder reliability, EMG-derived candidates and a frame-accurate video reader.

See docs/annotation.md.
"""
