"""Elicitation protocols (no Qt here): the protocol model (``model``); reading and validating a file
into it (``schema``, ``loader``, ``conditions``); the run of one participant (``plan``) and the check
that every run can be played (``check``); the engine that turns a run into markers (``engine``); the
library and user folders (``library``); stimulus media (``media``, ``demo_stimuli``) and the run's
files (``runlog``). The participant display and the control panel are in ``app/``.
See docs/protocols.md.
"""
