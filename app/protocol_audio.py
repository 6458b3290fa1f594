"""A clip's sound, played through QtMultimedia's QAudioSink (PySide6-Addons), started at the flip of
the clip's first frame. Decoding is done ahead by :class:`protocols.media.AudioReader`.

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
    """One clip's sound at a time: ``start(path)``, ``pause()``, ``resume()``, ``stop()``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.sink = None
        self.reader: AudioReader | None = None
        self._io = None
        self._pending = b""
        self.error: str | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._pump)

    def start(self, reader: AudioReader) -> bool:
        """Play ``reader`` (decoding ahead since before the clip's first flip) from now on."""
        self.stop()
        self.reader = reader
        if audio_unavailable():
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
        self.sink.setBufferSize(AUDIO_RATE * AUDIO_CHANNELS * 2 // 5)  # 200 ms
        self._io = self.sink.start()
        self._pump()
        self._timer.start()
        return True

    def _pump(self) -> None:
        if self._io is None or self.reader is None:
            return
        free = self.sink.bytesFree()
        while free > 0:
            if not self._pending:
                chunk = self.reader.read()
                if chunk is None:  # end of the sound track
                    self._timer.stop()
                    return
                if not chunk:
                    return
                self._pending = chunk
            n = min(free, len(self._pending))
            n -= n % 4
            if n <= 0:
                return
            written = self._io.write(self._pending[:n])
            if written <= 0:
                return
            self._pending = self._pending[written:]
            free -= written

    def pause(self) -> None:
        if self.sink is not None:
            self._timer.stop()
            self.sink.suspend()

    def resume(self) -> None:
        if self.sink is not None:
            self.sink.resume()
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        if self.sink is not None:
            self.sink.stop()
            self.sink.deleteLater()
            self.sink = None
        self._io = None
        self._pending = b""
        if self.reader is not None:
            if self.reader.error:
                self.error = self.reader.error
            self.reader.close()
            self.reader = None
