"""Reading a recorded session: the one layer every consumer goes through.

* :mod:`.names` — the file and stream names of a session (``rgb.mkv``, ``recording.xdf``,
  ``analysis/spotting.json``, ``mexlab-markers``, ``mexlab-rgb-frames``, the ``responses.csv`` columns …);
* :mod:`.streams` — the XDF's streams, always through the crash-tolerant
  :func:`acquisition.xdf_read.read_xdf_robust` (no other module calls pyxdf);
* :mod:`.frame_clock` — :class:`~.frame_clock.FrameClock`: video frame number ↔ LSL time;
* :mod:`.video` — the one PyAV reader: probing, decoding ahead in a thread, frame-accurate access.

Nothing here imports Qt, and importing it changes nothing in the process. Submodules are imported
by name (``from acquisition.session_read.names import RGB_NAME``); this package imports none of them.
"""
