"""The participant display: what the participant sees, and the LSL time each picture reached the screen.

Every change of picture goes through :meth:`ParticipantDisplay.flip`: a synchronous
``QWidget.repaint()`` of the page on screen (paint into the window's backing store and flush it to the
window system),
then, on X11, a round trip to the X server (it has executed the drawing: :func:`window_system_sync`),
then ``pylsl.local_clock()``. That last time is the flip time given to the engine, and so the timestamp of
the markers of the new picture. docs/protocol-timing.md says what it means on each platform and how
close it is (bench/marker_timing.py measures it with a second X client watching the screen).

Nothing else repaints the picture area between flips (no ``update()`` is used for it), so a picture is
never shown before its flip is timed. An optional photodiode patch (bottom-left, ``screen.photodiode``)
turns white/black at every flip, for a light sensor or the benchmark.
"""

from __future__ import annotations

import random

import numpy as np
import pylsl
from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QKeyEvent, QPainter
from PySide6.QtWidgets import QStackedLayout, QWidget

from app.gui.protocol.form import SelfReportForm

PATCH_PX = 40


def window_system_sync():
    """A function that returns once the window system has executed every drawing request sent so far,
    without processing Qt events; None where none is needed or known (see docs/protocol-timing.md).

    * ``xcb`` (X11, Xvfb): ``xcb_get_input_focus`` and its reply on Qt's own connection, a round trip,
      so the X server has drawn the picture (an XSync, about 40 us on Xvfb).
    * ``offscreen``: painting writes the window's picture directly; nothing to wait for.
    ``QGuiApplication.sync()`` is not used: it processes events, so timers would run inside a flip.
    """
    name = QGuiApplication.platformName()
    if name != "xcb":
        return None
    import ctypes

    class Cookie(ctypes.Structure):
        _fields_ = [("sequence", ctypes.c_uint)]

    try:
        conn = int(QGuiApplication.instance().nativeInterface().connection())
        xcb = ctypes.CDLL("libxcb.so.1")
        libc = ctypes.CDLL(None)
    except (OSError, AttributeError, TypeError):
        return None
    xcb.xcb_get_input_focus.restype = Cookie
    xcb.xcb_get_input_focus.argtypes = [ctypes.c_void_p]
    xcb.xcb_get_input_focus_reply.restype = ctypes.c_void_p
    xcb.xcb_get_input_focus_reply.argtypes = [ctypes.c_void_p, Cookie, ctypes.c_void_p]
    libc.free.argtypes = [ctypes.c_void_p]

    def sync() -> None:
        reply = xcb.xcb_get_input_focus_reply(conn, xcb.xcb_get_input_focus(conn), None)
        if reply:
            libc.free(reply)

    return sync


class Canvas(QWidget):
    """Text, fixation cross, picture or video frame, painted only when the display flips."""

    def __init__(self, bg: QColor, fg: QColor, font_px: int, parent=None):
        super().__init__(parent)
        self.bg, self.fg, self.font_px = bg, fg, font_px
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.text = ""
        self.symbol = ""
        self.image: QImage | None = None
        self.frame: QImage | None = None
        self._frame_ref = None
        self.paints = 0

    def set_content(self, text: str = "", symbol: str = "", image: QImage | None = None) -> None:
        self.text, self.symbol, self.image, self.frame, self._frame_ref = text, symbol, image, None, None

    def set_frame(self, rgb: np.ndarray) -> None:
        h, w = rgb.shape[:2]
        rgb = np.ascontiguousarray(rgb)
        self._frame_ref = rgb  # QImage does not own the buffer
        self.frame = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888)

    def paintEvent(self, _ev) -> None:  # noqa: N802 - Qt
        self.paints += 1
        p = QPainter(self)
        r = self.rect()
        p.fillRect(r, self.bg)
        if self.frame is not None:
            x, y = (r.width() - self.frame.width()) // 2, (r.height() - self.frame.height()) // 2
            p.drawImage(x, y, self.frame)
        text_rect = r.adjusted(self.font_px * 2, self.font_px, -self.font_px * 2, -self.font_px)
        if self.image is not None:
            img = self.image
            box = r.adjusted(0, 0, 0, -r.height() // 2) if self.text else r
            box = box.adjusted(self.font_px, self.font_px, -self.font_px, -self.font_px)
            scaled = img.scaled(box.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation)
            p.drawImage(
                box.x() + (box.width() - scaled.width()) // 2, box.y() + (box.height() - scaled.height()) // 2, scaled
            )
            if self.text:
                text_rect = QRect(r.x(), r.height() // 2, r.width(), r.height() // 2).adjusted(
                    self.font_px * 2, 0, -self.font_px * 2, -self.font_px
                )
        p.setPen(self.fg)
        if self.symbol:
            f = QFont(self.font())
            f.setPixelSize(int(self.font_px * 2.2))
            p.setFont(f)
            p.drawText(r, Qt.AlignCenter, self.symbol)
            text_rect = QRect(r.x(), r.y(), r.width(), r.height() // 2 - self.font_px * 2)
        if self.text:
            f = QFont(self.font())
            f.setPixelSize(self.font_px)
            p.setFont(f)
            align = Qt.AlignHCenter | (Qt.AlignBottom if self.symbol else Qt.AlignVCenter)
            p.drawText(text_rect, align | Qt.TextWordWrap, self.text)
        p.end()


class Patch(QWidget):
    """The photodiode patch: white after odd flips, black after even ones."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.color = QColor("black")

    def paintEvent(self, _ev) -> None:  # noqa: N802 - Qt
        p = QPainter(self)
        p.fillRect(self.rect(), self.color)
        p.end()


class ParticipantDisplay(QWidget):
    """The participant's screen. ``continued(t)``: Space, Enter or a click on an instructions screen;
    ``responded(answers, t)``: a self-report was submitted (``t`` in LSL seconds)."""

    continued = Signal(float)
    responded = Signal(dict, float)

    def __init__(self, screen: dict | None = None, parent=None):
        super().__init__(parent)
        s = {"background": "#000000", "foreground": "#E6E6E6", "font_size": 40, "photodiode": False, **(screen or {})}
        self.settings = s
        self.bg, self.fg = QColor(s["background"]), QColor(s["foreground"])
        self.setWindowTitle("mexlab - participant")
        pal = self.palette()
        pal.setColor(self.backgroundRole(), self.bg)
        self.setPalette(pal)
        self.setAutoFillBackground(True)
        self.setCursor(Qt.BlankCursor)
        self._font_base = int(s["font_size"])
        self._stack = QStackedLayout(self)
        self._stack.setContentsMargins(0, 0, 0, 0)
        self.canvas = Canvas(self.bg, self.fg, self._font_base)
        self.form = SelfReportForm(s["foreground"], s["background"], self._font_base // 2 + 4)
        self._stack.addWidget(self.canvas)
        self._stack.addWidget(self.form)
        self.form.submitted.connect(lambda a: self.responded.emit(a, pylsl.local_clock()))
        self.patch = Patch(self)
        self.patch.setVisible(bool(s["photodiode"]))
        self.flips = 0
        self.unpainted = 0
        self.accept_continue = False
        self._images: dict = {}
        self._prepared: int | None = None
        self._sync = window_system_sync()
        self.sync_method = "xcb round trip" if self._sync else "none (" + QGuiApplication.platformName() + ")"

    # -- placement ------------------------------------------------------------------------------
    def show_on(self, screen=None, fullscreen: bool = True, size: tuple[int, int] | None = None) -> None:
        screen = screen or QGuiApplication.primaryScreen()
        geo = screen.geometry()
        if size:
            self.resize(*size)
            self.move(geo.x() + 40, geo.y() + 40)
        else:
            self.setGeometry(geo)
        self._apply_font(self.height() if not fullscreen else geo.height())
        if fullscreen and not size:
            self.showFullScreen()
        else:
            self.show()
        QGuiApplication.processEvents()

    def _apply_font(self, height: int) -> None:
        px = max(12, int(self._font_base * height / 1080))
        self.canvas.font_px = px
        self.form.font_px = max(12, int(px * 0.6))
        self.form.setStyleSheet(self.form._style())

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt
        super().resizeEvent(ev)
        self.patch.setGeometry(0, self.height() - PATCH_PX, PATCH_PX, PATCH_PX)
        self.patch.raise_()

    def video_box(self) -> tuple[int, int]:
        return max(16, self.canvas.width()), max(16, self.canvas.height())

    # -- content --------------------------------------------------------------------------------
    def image(self, path) -> QImage:
        key = str(path)
        if key not in self._images:
            img = QImage(key)
            if img.isNull():
                from protocols.errors import ProtocolError

                raise ProtocolError(f"{path}: Qt cannot read this picture")
            self._images[key] = img
        return self._images[key]

    def show_scene(self, scene) -> None:
        """Set what the next flip shows for an engine scene (see protocols.engine.Scene)."""
        self.accept_continue = False
        if scene.kind in ("end", "aborted", "blank"):
            text = "Thank you." if scene.kind == "end" else ""
            self.canvas.set_content(text)
            self._stack.setCurrentWidget(self.canvas)
            return
        st, p = scene.step, scene.step.params
        if st.type == "self_report":
            self.prepare(st, force=True)
            self._prepared = None  # a form is used once
            self._stack.setCurrentWidget(self.form)
            return
        self._stack.setCurrentWidget(self.canvas)
        if st.type == "instructions":
            self.canvas.set_content(p["text"], image=self.image(p["image"]) if p.get("image") else None)
            self.accept_continue = p["advance"] == "participant"
        elif st.type == "fixation":
            self.canvas.set_content(symbol=p["symbol"])
        elif st.type == "rest":
            self.canvas.set_content(p["text"], symbol="+")
        elif st.type == "stimulus":
            if p["kind"] == "text":
                self.canvas.set_content(p["text"])
            elif p["kind"] == "image":
                self.canvas.set_content(image=self.image(p["file"]))
            else:
                self.canvas.set_content()  # frames come with set_video_frame
        elif st.type == "question":
            self.canvas.set_content(p["participant_text"])
        elif st.type == "act":
            self.canvas.set_content(p["text"])
            self.accept_continue = p["advance"] == "participant"
        elif st.type == "pause":
            self.canvas.set_content(p["text"])

    def prepare(self, step, force: bool = False) -> None:
        """Build a self-report form ahead, while the step before it is on screen (building widgets
        takes tens of ms, which would otherwise lengthen the step before)."""
        if not force and self._stack.currentWidget() is self.form:
            return  # the form on screen is still in use
        if step.type == "self_report" and self._prepared != step.seq:
            p = step.params
            self.form.setup(p["items"], p["categories"], p["prompt"])
            self._prepared = step.seq
            for w in [self.form, *self.form.findChildren(QWidget)]:
                w.ensurePolished()
            self.form.layout().activate()

    def set_video_frame(self, rgb: np.ndarray) -> None:
        self.canvas.set_frame(rgb)

    # -- the flip -------------------------------------------------------------------------------
    def flip(self) -> tuple[float, float]:
        """Put the prepared picture on the screen now; (LSL time before, LSL time after = flip time)."""
        self.flips += 1
        self.patch.color = QColor("white") if self.flips % 2 else QColor("black")
        page = self._stack.currentWidget()
        before = self.canvas.paints
        t0 = pylsl.local_clock()
        page.repaint()  # the page, not the window: QWidget.repaint() of a top-level may be deferred
        if self.patch.isVisible():
            self.patch.repaint()
        if self._sync is not None:
            self._sync()
        t1 = pylsl.local_clock()
        if page is self.canvas and self.canvas.paints == before:
            self.unpainted += 1  # Qt did not paint synchronously: this flip's time is not trustworthy
        return t0, t1

    # -- participant input ----------------------------------------------------------------------
    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802 - Qt
        if ev.key() in (Qt.Key_Space, Qt.Key_Return, Qt.Key_Enter) and self.accept_continue:
            self.accept_continue = False
            self.continued.emit(pylsl.local_clock())
            return
        super().keyPressEvent(ev)

    def mousePressEvent(self, ev) -> None:  # noqa: N802 - Qt
        if self.accept_continue and self._stack.currentWidget() is self.canvas:
            self.accept_continue = False
            self.continued.emit(pylsl.local_clock())
            return
        super().mousePressEvent(ev)

    def simulate_input(self, rng: random.Random) -> None:
        """A simulated participant: answer the form, or press Space on an instructions screen."""
        if self._stack.currentWidget() is self.form:
            self.form.simulate(rng)
        else:
            from PySide6.QtCore import QEvent

            QGuiApplication.sendEvent(self, QKeyEvent(QEvent.KeyPress, Qt.Key_Space, Qt.NoModifier, " "))
