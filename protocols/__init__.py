"""Elicitation protocols (no Qt here): the file format (``schema``, ``loader``), the run of one
participant (``plan``), the engine that turns it into markers (``engine``), the library and user
folders (``library``), stimulus media (``media``, ``demo_stimuli``) and the run's files (``runlog``).
The participant display and the control panel are in ``app/``. See docs/protocols.md.
"""
