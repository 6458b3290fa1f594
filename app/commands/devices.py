"""``mexlab devices``: RealSense cameras and LSL streams that can be recorded now."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("devices", help="list RealSense cameras (with their modes) and LSL streams")
    p.add_argument("--json", action="store_true")
    p.add_argument("--wait", type=float, default=1.0, help="seconds to look for LSL streams")
    p.set_defaults(func=run)


def run(args) -> int:
    from acquisition.errors import DeviceError
    from acquisition.lsl_streams import list_streams
    from acquisition.realsense.devices import list_devices
    from app.commands._bounds import MAX_WAIT_S, seconds

    seconds(args.wait, "--wait", maximum=MAX_WAIT_S, zero=True)
    try:
        cams = [d.as_dict() for d in list_devices()]
        cam_error = None
    except DeviceError as exc:
        cams, cam_error = [], str(exc)
    streams = list_streams(wait=args.wait)
    if args.json:
        print(
            json.dumps(
                {
                    "cameras": cams,
                    "camera_error": cam_error,
                    "lsl": [
                        {
                            "name": s.name,
                            "type": s.type,
                            "source_id": s.source_id,
                            "hostname": s.hostname,
                            "channel_count": s.channel_count,
                            "nominal_srate": s.nominal_srate,
                        }
                        for s in streams
                    ],
                },
                indent=2,
            )
        )
        return 0
    print("RealSense cameras:")
    if cam_error:
        print(f"  (unavailable: {cam_error})")
    elif not cams:
        print("  none connected (use --simulate or --camera-file)")
    for c in cams:
        print(f"  {c['name']} #{c['serial']} firmware {c['firmware']} {c['usb']}")
        print(f"    colour: {', '.join(c['rgb_modes'])}")
        print(f"    depth:  {', '.join(c['depth_modes'])}")
    print("LSL streams:")
    if not streams:
        print("  none found")
    for s in streams:
        print(f"  {s.describe()} source_id={s.source_id}")
    return 0
