"""Acquisition: RealSense cameras, LSL streams, the recording engine, the simulated rig, the catalog.

No Qt here. The GUI (app/) is a view over these classes. Importing this package changes nothing in
the process: liblsl's quiet configuration is set where a recording starts
(:func:`acquisition.lsl_config.quiet_liblsl`).
"""
