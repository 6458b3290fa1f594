"""The Record workspace's red banner: frames and samples lost so far, impossible to miss (counters alone
were red text that a lab overlooked while 158 RGB frames were dropped)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel


class LossBanner(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setStyleSheet("background:#c0392b; color:white; font-weight:bold; padding:6px;")
        self.hide()

    def show_losses(self, snap: dict | None, final: bool = False) -> None:
        """Show the losses of a Recorder snapshot (live) or of the finished recording (``final``)."""
        if not snap:
            return
        frames, samples = snap.get("dropped_frames", 0), snap.get("dropped_samples", 0)
        if not frames and not samples:
            return
        parts = []
        for key, v in snap.get("videos", {}).items():
            lost = v["dropped_counter_gap"] + v["dropped_queue_overflow"]
            if lost:
                total = lost + v["frames_written"]
                parts.append(
                    f"{lost} {key.upper()} frame{'s' if lost != 1 else ''} dropped "
                    f"({100.0 * lost / max(1, total):.1f} %)"
                )
        if samples:
            parts.append(f"{samples} LSL samples lost")
        text = f"⚠ {'this recording lost data' if final else 'LOSING DATA'}: " + "; ".join(parts)
        if not final:
            text += " — the machine cannot keep up (close other programs, switch live spotting off)"
        if self.text() != text:
            self.setText(text)
        self.show()
