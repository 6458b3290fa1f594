"""The LSL configuration LabRecorderCLI runs with: the lab's own, plus this machine as a known peer.

LabRecorderCLI looks the network over once, for about a second, with the liblsl it was built with,
and gives up on a stream it did not hear from. That liblsl finds streams by multicast; where
multicast does not reach this machine's own sockets (no multicast route, a sandboxed or filtered
network stack, a moment of loss on a busy machine), a query sent to 127.0.0.1 reaches only the most
recently opened outlet, and every other stream, mexlab's markers included, "matched no stream"
(reproduced in a network namespace with only the loopback interface; tests/acquisition/test_lsl_config.py).

With ``[lab] KnownPeers`` naming 127.0.0.1, liblsl also asks every port of its port range on this
machine by unicast (each outlet listens on one of them), so the streams of this machine are found
whatever multicast does; streams of other machines are still found by multicast (or by the lab's own
known peers). The lab's configuration is kept: :func:`child_config_text` starts from the file liblsl
itself would read (``LSLAPICFG``, ``./lsl_api.cfg``, ``~/lsl_api/lsl_api.cfg``,
``/etc/lsl_api/lsl_api.cfg``: the first readable one) and only adds the peer.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

LOCAL_PEER = "127.0.0.1"


def user_config_file(cwd: Path | None = None) -> Path | None:
    """The configuration file liblsl would read in ``cwd`` (None: liblsl's defaults)."""
    candidates = []
    if os.environ.get("LSLAPICFG"):
        candidates.append(Path(os.environ["LSLAPICFG"]))
    candidates += [
        Path(cwd or Path.cwd()) / "lsl_api.cfg",
        Path.home() / "lsl_api" / "lsl_api.cfg",
        Path("/etc/lsl_api/lsl_api.cfg"),
    ]
    for path in candidates:
        try:
            with open(path, "rb"):
                return path
        except OSError:
            continue
    return None


def _is_section(line: str) -> bool:
    s = line.strip()
    return s.startswith("[") and s.endswith("]")


def with_known_peer(text: str, peer: str = LOCAL_PEER) -> str:
    """``text`` (an lsl_api.cfg) with ``peer`` in ``[lab] KnownPeers``, everything else unchanged."""
    lines = text.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == "[lab]")
    except StopIteration:
        tail = ["", "[lab]", f"KnownPeers = {{{peer}}}"]
        return "\n".join(lines + tail).lstrip("\n") + "\n"
    end = next((i for i in range(start + 1, len(lines)) if _is_section(lines[i])), len(lines))
    for i in range(start + 1, end):
        key, sep, value = lines[i].partition("=")
        if not sep or key.strip() != "KnownPeers":
            continue
        value = value.strip()
        peers = (
            [p.strip() for p in value[1:-1].split(",") if p.strip()]
            if value.startswith("{") and value.endswith("}")
            else []
        )  # liblsl ignores anything else
        if peer not in peers:
            peers.append(peer)
        lines[i] = f"KnownPeers = {{{', '.join(peers)}}}"
        return "\n".join(lines) + "\n"
    lines.insert(start + 1, f"KnownPeers = {{{peer}}}")
    return "\n".join(lines) + "\n"


def child_config_text(cwd: Path | None = None) -> str:
    src = user_config_file(cwd)
    text = ""
    if src is not None:
        try:
            text = src.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
    return with_known_peer(text)


def write_child_config(cwd: Path | None = None) -> Path:
    """A private temporary file holding :func:`child_config_text`; the caller deletes it once the
    child has started (liblsl reads its configuration once, at its first call)."""
    fd, name = tempfile.mkstemp(prefix="mexlab-lsl-", suffix=".cfg")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(child_config_text(cwd))
    return Path(name)


def quiet_liblsl() -> Path | None:
    """liblsl logs INFO lines to stderr at start-up. Unless the lab has its own LSL configuration
    (LSLAPICFG or an lsl_api.cfg in the usual places — kept untouched), use one that only logs errors.

    Called where a recording (or a pre-flight, or the rig) starts, before liblsl's first call: liblsl
    reads its configuration once per process. Sets ``LSLAPICFG`` for this process (inherited by
    LabRecorderCLI, which mexlab starts) and returns the file, or None when the lab's own is kept.
    Importing mexlab never does this."""
    if os.environ.get("LSLAPICFG"):
        return None
    for p in ("lsl_api.cfg", "~/lsl_api/lsl_api.cfg", "/etc/lsl_api/lsl_api.cfg"):
        if Path(p).expanduser().exists():
            return None
    path = Path(tempfile.gettempdir()) / f"mexlab-lsl_api-{os.getuid() if hasattr(os, 'getuid') else 0}.cfg"
    try:
        if not path.exists():
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text("[log]\nlevel = -2\n", encoding="utf-8")
            os.replace(tmp, path)
        os.environ["LSLAPICFG"] = str(path)
    except OSError:
        return None
    return path
