"""Micro- and macro-expression spotting: features, detection, interference elimination, live
spotting and onset-apex samples. The entry points are :func:`analysis.spotting.pipeline.spot` and
:class:`analysis.spotting.live.StreamingSpotter`."""
