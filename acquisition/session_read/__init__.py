"""Reading a recorded session: the one layer every consumer goes through.

* :mod:`.names` — the file and stream names of a session (``rgb.mkv``, ``recording.xdf``,
  ``analysis/spotting.json``, ``mexlab-markers``, ``mexlab-rgb-frames``, the ``responses.csv`` columns …);
* :mod:`.streams` — the XDF's streams, always through the crash-tolerant
  :func:`acquisition.xdf_read.read_xdf_robust` (no other module calls pyxdf);
* :mod:`.frame_clock` — :class:`~.frame_clock.FrameClock`: video frame number ↔ LSL time;
* :mod:`.video` — the one PyAV layer: opening with clear errors, probing, presentation times,
  :class:`~.video.FrameStream` (frames in file order, decoded ahead) and ``iter_frames``;
* :mod:`.ahead` — :class:`~.ahead.DecodeAhead`, the one thread-plus-queue decoder (video and audio);
* :mod:`.frame_reader` — :class:`~.frame_reader.FrameReader`: frame-accurate random access (cache,
  read-ahead) for stepping, scrubbing and showing one frame.

A session cut by a crash (an XDF ending inside a chunk, a video cut mid-file) is read as far as it
goes by each of these, with a note saying so (tests/analysis/test_session_crash.py).

Nothing here imports Qt, and importing it changes nothing in the process. Submodules are imported
by name (``from acquisition.session_read.names import RGB_NAME``); this package imports none of them.
"""
