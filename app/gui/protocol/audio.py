"""A clip's sound, played through QtMultimedia's QAudioSink (PySide6-Addons), started right after the
flip of the clip's first frame. Decoding is done ahead by :class:`protocols.media.AudioReader`.

Without QtMultimedia (PySide6-Essentials only), without libpulse, or without an audio output device
(the offscreen platform of ``--headless``), :func:`audio_unavailable` says why and clips play silent;
the run log records it. The delay from ``start()`` to sound at the speaker depends on the sound
system (typically 10-50 ms with PulseAudio/PipeWire) and is not measured by mexlab: use a microphone
or a sound-to-light sensor if sound onsets matter to your analysis.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from protocols.media import AUDIO_CHANNELS, AUDIO_RATE, AudioReader

_why: str | None = None
_checked = False


def audio_unavailable() -> str | None:
    """None when sound can be played, otherwise why not (one line)."""
    global _why, _checked
    if _checked:
        return _why
    _checked = True
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.platformName() == "offscreen":
        _why = "the offscreen display (--headless) plays no sound"
        return _why
    try:
        from PySide6.QtMultimedia import QMediaDevices
    except ImportError as exc:
        _why = f"QtMultimedia is not available ({exc}); install PySide6-Addons (and libpulse0) for sound"
        return _why
    if QMediaDevices.defaultAudioOutput().isNull():
        _why = "no audio output device"
    return _why


class AudioPlayer(QObject):
    """One sound stream for the whole run: silence between clips, a clip's sound from ``start(reader)``.

    Opening a stream takes the sound system a second or more (PulseAudio here: 1.2-1.5 s before the first
    sample is played), so the stream is opened once by ``open()`` when the run starts and kept fed with
    silence; only ``QUEUE_MS`` of silence is ever queued ahead, so a clip's sound follows its first frame
    by at most that much plus the device's own latency.
    """

    QUEUE_MS = 30
    BYTES_PER_S = AUDIO_RATE * AUDIO_CHANNELS * 2

    def __init__(self, parent=None):
        super().__init__(parent)
        self.sink = None
        self.reader: AudioReader | None = None
        self._io = None
        self._pending = b""
        self._paused = False
        self.error: str | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._pump)

    def open(self) -> bool:
        """Open the stream (at the start of a run); False (and ``error``) when there is no sound."""
        if self.sink is not None:
            return True
        why = audio_unavailable()
        if why:
            self.error = why
            return False
        from PySide6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices

        fmt = QAudioFormat()
        fmt.setSampleRate(AUDIO_RATE)
        fmt.setChannelCount(AUDIO_CHANNELS)
        fmt.setSampleFormat(QAudioFormat.Int16)
        dev = QMediaDevices.defaultAudioOutput()
        if not dev.isFormatSupported(fmt):
            self.error = f"the audio device {dev.description()} cannot play 48 kHz 16-bit stereo"
            return False
        self.sink = QAudioSink(dev, fmt, self)
        self.sink.setBufferSize(self.BYTES_PER_S // 10)  # 100 ms of room; only QUEUE_MS is kept filled
        self._io = self.sink.start()
        self._pump()
        self._timer.start()
        return True

    def start(self, reader: AudioReader) -> bool:
        """Play ``reader`` (decoding ahead since before the clip's first flip) from now on."""
        self.stop()
        self.reader = reader
        self._paused = False
        if self.sink is None:
            return False
        self._pump()
        return True

    def _pump(self) -> None:
        if self._io is None:
            return
        queued = self.sink.bufferSize() - self.sink.bytesFree()
        room = self.sink.bytesFree()
        if self.reader is not None and not self._paused:
            while room > 0:
                if not self._pending:
                    chunk = self.reader.read()
                    if not chunk:  # None at the end, b"" when the decoder is behind: silence meanwhile
                        break
                    self._pending = chunk
                n = min(room, len(self._pending))
                n -= n % 4
                written = self._io.write(self._pending[:n]) if n > 0 else 0
                if written <= 0:
                    return
                self._pending = self._pending[written:]
                room -= written
                queued += written
        want = self.BYTES_PER_S * self.QUEUE_MS // 1000 - queued
        want -= want % 4
        if want > 0:
            self._io.write(bytes(min(want, room)))

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def stop(self) -> None:
        """End the clip's sound (the stream goes on with silence)."""
        self._pending = b""
        if self.reader is not None:
            if self.reader.error:
                self.error = self.reader.error
            self.reader.close()
            self.reader = None

    def close(self) -> None:
        self.stop()
        self._timer.stop()
        if self.sink is not None:
            self.sink.stop()
            self.sink.deleteLater()
            self.sink = None
        self._io = None
