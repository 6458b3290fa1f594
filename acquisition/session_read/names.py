"""The file and stream names of a mexlab session, spelled once (see docs/session-format.md).

Every module that opens a session's file or looks for one of its streams takes the name from here.
Only literals live here (no imports), so any layer may import it.
"""

from __future__ import annotations

FORMAT = "mexlab-session/1"  # session.json "format"

# --- files of a session folder ----------------------------------------------------------------
SIDECAR = "session.json"
XDF_NAME = "recording.xdf"
RGB_NAME = "rgb.mkv"
DEPTH_NAME = "depth.mkv"
GROUND_TRUTH_NAME = "ground_truth.csv"  # the simulated rig's truth (rgb.mkv frames)
GROUND_TRUTH_PHYSIO_NAME = "ground_truth_physio.json"
SIM_CAPTURE_TIMES_NAME = "sim_capture_times.csv"
ANALYSIS_DIR = "analysis"
SPOTTING_FILE = f"{ANALYSIS_DIR}/spotting.json"  # written by `mexlab spot`
RECOGNITION_FILE = f"{ANALYSIS_DIR}/recognition.json"  # written by `mexlab recognize`
PHYSIO_FILE = f"{ANALYSIS_DIR}/physio.json"  # written by `mexlab physio` on many sessions
CACHE_DIR = ".mexlab-cache"  # feature caches beside the video

# --- files a protocol run adds (protocols/runlog.py) ------------------------------------------
PROTOCOL_LOG_NAME = "protocol_log.jsonl"
RESPONSES_NAME = "responses.csv"
STIMULUS_FRAMES_NAME = "stimulus_frames.csv"
#: the columns of responses.csv, in order
RESPONSE_COLUMNS = [
    "participant",
    "protocol",
    "group",
    "block",
    "block_n",
    "trial",
    "row",
    "step_id",
    "kind",
    "stimulus",
    "question",
    "question_kind",
    "condition",
    "category",
    "intensity",
    "valence",
    "arousal",
    "text",
    "onset_lsl",
    "response_lsl",
    "rt_s",
    "simulated",
]

# --- LSL streams mexlab writes into recording.xdf ---------------------------------------------
MARKER_STREAM = "mexlab-markers"  # type Markers, JSON strings


def frame_index_stream(video: str) -> str:
    """The frame-index stream of a video (``rgb``, ``depth``): one sample per frame written."""
    return f"mexlab-{video}-frames"


RGB_FRAMES_STREAM = frame_index_stream("rgb")
DEPTH_FRAMES_STREAM = frame_index_stream("depth")
#: session.json "files" key -> default file name
VIDEO_FILES = {"rgb": RGB_NAME, "depth": DEPTH_NAME}
