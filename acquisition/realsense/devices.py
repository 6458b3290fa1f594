"""RealSense devices: list what is connected, with every colour and depth mode, and open one."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

from acquisition.errors import DeviceError

try:  # pyrealsense2 needs the system library libusb-1.0
    import pyrealsense2 as rs
except ImportError as exc:  # pragma: no cover - depends on the machine
    rs = None
    _IMPORT_ERROR = str(exc)
else:
    _IMPORT_ERROR = None


def require_rs() -> ModuleType:
    if rs is None:
        raise DeviceError(
            f"pyrealsense2 cannot be loaded ({_IMPORT_ERROR}); on Debian/Ubuntu install the "
            "system package libusb-1.0-0 (make install does this)"
        )
    return rs


def _info(dev, key) -> str:
    r = require_rs()
    field_ = getattr(r.camera_info, key)
    try:
        return dev.get_info(field_) if dev.supports(field_) else ""
    except RuntimeError:
        return ""


@dataclass
class DeviceModes:
    name: str
    serial: str
    firmware: str
    product_line: str
    usb: str
    rgb: list[str] = field(default_factory=list)  # "848x480@30 rgb8"
    depth: list[str] = field(default_factory=list)  # "848x480@30 z16"

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "serial": self.serial,
            "firmware": self.firmware,
            "product_line": self.product_line,
            "usb": self.usb,
            "rgb_modes": self.rgb,
            "depth_modes": self.depth,
        }


def describe_device(dev: rs.device) -> DeviceModes:
    r = require_rs()
    out = DeviceModes(
        name=_info(dev, "name"),
        serial=_info(dev, "serial_number"),
        firmware=_info(dev, "firmware_version"),
        product_line=_info(dev, "product_line"),
        usb=_info(dev, "usb_type_descriptor"),
    )
    for sensor in dev.query_sensors():
        for prof in sensor.get_stream_profiles():
            if not prof.is_video_stream_profile():
                continue
            v = prof.as_video_stream_profile()
            text = f"{v.width()}x{v.height()}@{v.fps()} {str(v.format()).split('.')[-1]}"
            if v.stream_type() == r.stream.color and text not in out.rgb:
                out.rgb.append(text)
            elif v.stream_type() == r.stream.depth and text not in out.depth:
                out.depth.append(text)
    return out


def list_devices() -> list[DeviceModes]:
    r = require_rs()
    return [describe_device(d) for d in r.context().query_devices()]


def open_live(serial: str | None = None) -> rs.device:
    """The connected device (by serial, or the only one); a clear error listing what exists."""
    r = require_rs()
    devices = list(r.context().query_devices())
    if not devices:
        raise DeviceError(
            "no RealSense camera is connected (librealsense found no device). "
            "Check the USB 3 cable, or record from the simulated rig (--simulate) or a camera file "
            "(--camera-file FILE), or LSL streams only (--no-camera)"
        )
    if serial:
        for d in devices:
            if _info(d, "serial_number") == serial:
                return d
        have = ", ".join(f"{_info(d, 'name')} #{_info(d, 'serial_number')}" for d in devices)
        raise DeviceError(f"no RealSense camera with serial {serial}; connected: {have}")
    if len(devices) > 1:
        have = ", ".join(f"{_info(d, 'name')} #{_info(d, 'serial_number')}" for d in devices)
        raise DeviceError(f"several RealSense cameras are connected ({have}); choose one with --serial")
    return devices[0]
