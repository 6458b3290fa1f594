"""The coordinator and site processes behind ``mexlab fl coordinator`` and ``mexlab fl site``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from acquisition.errors import InputError, ServiceError
from analysis.federated import deploy, launchers, tls

if TYPE_CHECKING:
    from collections.abc import Iterable

# a refused site stays this long after sending its refusal: a SuperNode that leaves takes its unread
# reply with it (seen with 1 s at load ~30, and once with 8 s at load ~11 on 2026-12-02, when the
# coordinator logged the refused site as lost instead)
REFUSAL_LINGER_S = 20.0

#: how long the coordinator waits for its SuperLink to listen
SUPERLINK_START_S = 120.0


def coordinator(
    address: str,
    run_config: dict,
    out: Path,
    *,
    insecure: bool,
    certs: dict,
    supernode_auth: bool,
    timeout_s: float | None = None,
    site_keys: Iterable[str] = (),
) -> dict:
    host, port = deploy.parse_address(address, "--address")
    deploy.check_security(host, insecure, certs, "mexlab fl coordinator")
    if supernode_auth and insecure:
        raise InputError(
            "mexlab fl coordinator: --supernode-auth needs TLS (Flower refuses it with "
            "--insecure); give --ssl-certfile, --ssl-keyfile and --ssl-ca-certfile"
        )
    if site_keys and not supernode_auth:
        raise InputError("mexlab fl coordinator: --site-keys registers keys for --supernode-auth; add --supernode-auth")
    if not insecure:
        tls.check_server_files(certs, host, "mexlab fl coordinator")
    for k in site_keys:
        tls.check_public_key(k, "mexlab fl coordinator")
    if not deploy.port_free(host, port):
        raise ServiceError(
            f"--address {address}: port {port} is in use on {host} (another coordinator? choose another port)"
        )
    out.mkdir(parents=True, exist_ok=True)
    home = out / ".flwr"
    env = deploy.flower_env(home, launchers.write(home / "bin"))
    deploy.write_cli_config(home, host, port, insecure, certs.get("ssl-ca-certfile"))
    app = deploy.write_app(out / "app", {**run_config, "out": str(out.resolve())})
    cmd = [
        deploy.tool("flower-superlink"),
        "--host",
        host,
        "--port",
        str(port),
        "--disable-runtime-dependency-installation",
        # no --database: Flower's in-memory state. With a state file (SQLite), the SuperLink's own
        # writers answered each other "database is locked" (HTTP 500) on a loaded machine and the run
        # failed; mexlab keeps what a run must keep in its own files (status.json, events.jsonl, the
        # versions), so nothing needs the SuperLink's state after it stops
    ]
    if insecure:
        cmd.append("--insecure")
    else:
        cmd += [
            "--ssl-certfile",
            certs["ssl-certfile"],
            "--ssl-keyfile",
            certs["ssl-keyfile"],
            "--ssl-ca-certfile",
            certs["ssl-ca-certfile"],
        ]
    if supernode_auth:
        cmd.append("--enable-supernode-auth")
    (out / "status.json").unlink(missing_ok=True)
    deploy.term_as_interrupt()
    log = out / "superlink.log"
    link = None
    try:
        with open(log, "ab") as lf:
            link = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, env=env, cwd=out, start_new_session=True)
        # a SuperLink that stops is seen at once; the bound is for one that never listens. 30 s was
        # too short at nice 15 under load 10-12 (2026-12-03: flower-superlink had not written a line)
        deploy.wait_listening(host, port, link, SUPERLINK_START_S, log, "the SuperLink")
        for k in site_keys:
            register_site(Path(k), env)
        print(
            f"mexlab fl: coordinator listening on {host}:{port}; sites join with "
            f"`mexlab fl site --coordinator {host}:{port} --data ...`",
            file=sys.stderr,
            flush=True,
        )
        run = subprocess.Popen(
            [deploy.tool("flwr"), "run", str(app), "mexlab", "--stream"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
            start_new_session=True,
        )
        t0 = time.monotonic()
        with open(out / "run.log", "a") as rl:
            for line in run.stdout:
                rl.write(line)
                if "mexlab fl:" in line:
                    print(line[line.index("mexlab fl:") :].rstrip(), file=sys.stderr, flush=True)
                if timeout_s and time.monotonic() - t0 > timeout_s:
                    deploy.stop(run)
                    raise ServiceError(f"the run did not finish within {timeout_s:.0f} s (see {out}/run.log)")
        run.wait()
    finally:
        deploy.stop(link)
    try:
        status = json.loads((out / "status.json").read_text())
    except (OSError, ValueError):
        status = {}
    if not status.get("final"):
        raise ServiceError(
            f"the federated run failed: {deploy.last_line(out / 'run.log')} "
            f"(logs in {out}/run.log and {out}/superlink.log)"
        )
    return status


def register_site(pub: Path, env: dict) -> None:
    """Register a site's public key with the running SuperLink (Flower's `flwr supernode register`)."""
    r = subprocess.run(
        [deploy.tool("flwr"), "supernode", "register", str(pub), "mexlab"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = (r.stdout + r.stderr).strip()
    if r.returncode != 0 or "registered successfully" not in text:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        raise ServiceError(f"--site-keys {pub}: Flower did not register it: {(lines or ['(no output)'])[-1][-300:]}")
    print(f"mexlab fl: site key {pub.name} registered", file=sys.stderr, flush=True)


def site(
    coordinator_addr: str,
    specs: list[str],
    name: str,
    *,
    insecure: bool,
    root_cert: str | None,
    auth_key: str | None,
    views: str,
    classes: str,
    truth: str | None,
    max_wait_s: float = 60.0,
    wait_s: float = 30.0,
    slowdown: float = 1.0,
) -> int:
    from analysis.federated import site as site_mod
    from analysis.federated.worker import SLOWDOWN_KEY

    host, port = deploy.parse_address(coordinator_addr, "--coordinator")
    deploy.check_security(host, insecure, {"root-certificates": root_cert}, "mexlab fl site")
    if not insecure:
        tls.check_root_certificate(root_cert, "mexlab fl site")
    if auth_key:
        tls.check_private_key(auth_key, "mexlab fl site")
    # the data is checked before anything connects: a site with nothing usable never joins
    data = site_mod.load_features(specs, classes=classes, views=tuple(views.split(",")), truth=truth)
    sd = site_mod.split_site(data, where=f"site {name}")
    t0 = time.monotonic()
    why = deploy.reachable(host, port)
    while why and time.monotonic() - t0 < wait_s:  # the coordinator may be starting
        time.sleep(1.0)
        why = deploy.reachable(host, port)
    if why:
        raise ServiceError(
            f"cannot reach the coordinator at {host}:{port} ({why}, for {wait_s:.0f} s); is "
            "`mexlab fl coordinator` running there?"
        )
    # the handshake the SuperNode will make: a wrong CA, a certificate that does not name the host,
    # or TLS on one side only is said here in one line (Flower's SuperNode ends with code 305)
    tls.check_coordinator(host, port, None if insecure else root_cert, f"site {name}")
    state = Path(tempfile.mkdtemp(prefix=f"mexlab-fl-{name}-"))
    status_file = state / "status.txt"
    node_cfg = {
        "site-name": name,
        "data": "|".join(str(s) for s in specs),
        "views": views,
        "classes": classes,
        "status-file": str(status_file),
    }
    if truth:
        node_cfg["truth"] = truth
    if slowdown != 1.0:  # a trial setting (worker.answer); stays on this site, never sent
        node_cfg[SLOWDOWN_KEY] = float(slowdown)
    from analysis.federated.worker import SiteWorker

    # torch, the model and the data stay loaded in this process (worker.py), warmed while the
    # SuperNode starts
    try:
        warm = SiteWorker(state, warm_config=node_cfg)
        node_cfg.update(warm.node_config())
    except OSError as exc:  # e.g. a socket path too long: the ClientApp answers itself
        warm = None
        print(
            f"mexlab fl: site {name}: no warm worker ({exc}); each message loads torch anew",
            file=sys.stderr,
            flush=True,
        )
    cmd = [
        deploy.tool("flower-supernode"),
        "--superlink",
        f"{host}:{port}",
        "--host",
        "127.0.0.1",
        "--port",
        str(deploy.free_port()),
        "--node-config",
        deploy.node_config_arg(node_cfg),
        "--max-wait-time",
        str(max_wait_s),
    ]
    cmd += ["--insecure"] if insecure else ["--root-certificates", root_cert]
    if auth_key:
        cmd += ["--auth-supernode-private-key", auth_key]
    log = state / "supernode.log"
    print(
        f"mexlab fl: site {name}: {sd.n_train} training samples, {len(sd.held)} held out "
        f"({len(set(sd.held.subjects))} subjects)"
        + (
            f"; --slowdown {slowdown:g}: waits {slowdown - 1:g}x each message's time before its reply"
            if slowdown != 1.0
            else ""
        )
        + f"; joining {host}:{port}",
        file=sys.stderr,
        flush=True,
    )
    with open(log, "ab") as lf:
        node = subprocess.Popen(
            cmd,
            stdout=lf,
            stderr=subprocess.STDOUT,
            env=deploy.flower_env(state, launchers.write(state / "bin")),
            start_new_session=True,
        )
    last = ""
    stopped = gave_up = False
    seen = _LogWatch(log)
    deploy.term_as_interrupt()
    try:
        while node.poll() is None:
            time.sleep(0.5)
            if seen.has(GAVE_UP):
                # Flower's SuperNode stopped reconnecting (--max-wait-time) but does not end: its
                # HTTP thread keeps the process alive, and it never joins again
                gave_up = True
                break
            if status_file.exists():
                text = status_file.read_text(errors="replace").strip()
                if text != last:
                    last = text
                    code, _, detail = text.partition(": ")
                    if code in ("incompatible-model", "no-usable-data"):
                        # the ClientApp wrote this just before replying: wait until the SuperNode
                        # has sent the refusal (its log says so; 60 s at most), so the coordinator
                        # logs a refused site, not a lost one
                        t_ref = time.monotonic()
                        while (
                            node.poll() is None
                            and time.monotonic() - t_ref < 60
                            and _count(log, "Sent successfully") < _count(log, "Start `flwr-clientapp` process")
                        ):
                            time.sleep(0.5)
                        # then give the coordinator time to pull it: a SuperNode that leaves
                        # at once takes its unread reply with it
                        time.sleep(REFUSAL_LINGER_S)
                        raise ServiceError(f"site {name}: {detail}")
                    print(f"mexlab fl: site {name}: {text.splitlines()[0]}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        stopped = True
    finally:
        ended = node.poll()  # before stop(): how the SuperNode ended by itself (None: it was stopped)
        deploy.stop(node)
        if warm is not None:
            warm.close()
        tail = deploy.last_line(log)
        if stopped or gave_up or node.returncode in (0, None, -15):
            shutil.rmtree(state, ignore_errors=True)
    if stopped:
        print(f"mexlab fl: site {name}: stopped", file=sys.stderr)
        return 0
    if gave_up:
        if last.startswith("ok"):  # it took part: the run is over, or the coordinator stopped
            print(
                f"mexlab fl: site {name}: the coordinator at {host}:{port} has not answered for "
                f"{max_wait_s:.0f} s (the run is over, or the coordinator stopped); this site stops. "
                "Start it again to join a new run.",
                file=sys.stderr,
            )
            return 0
        raise ServiceError(
            f"site {name}: lost the coordinator at {host}:{port} (no answer for {max_wait_s:.0f} s) "
            "before it sent this site any work"
        )
    if ended == 0:
        # e.g. a coordinator restarted on the same address does not know this site's node: Flower
        # ends the SuperNode without an error
        print(
            f"mexlab fl: site {name}: Flower's SuperNode ended ({tail}); start the site again to join a new run",
            file=sys.stderr,
        )
        return 0
    if node.returncode not in (0, None) and last.startswith("ok") and deploy.reachable(host, port):
        # the coordinator went away after this site took part: the run ended (or was stopped)
        print(f"mexlab fl: site {name}: the coordinator at {host}:{port} is gone (run over)", file=sys.stderr)
        return 0
    if node.returncode not in (0, None) and _count(log, "Exit Code: 305"):
        # Flower's SUPERNODE_CONNECTION_ERROR: the SuperLink answered but would not let it in
        hint = (
            "is this site's public key registered on the coordinator (`flwr supernode register "
            "KEY.pub`, docs/federated.md)?"
            if auth_key
            else "does the coordinator require SuperNode authentication (--auth-key)?"
        )
        raise ServiceError(
            f"site {name}: the coordinator at {host}:{port} did not let this site in "
            f"(Flower exit code 305: connection refused): {hint}"
        )
    if node.returncode not in (0, None):
        raise ServiceError(f"site {name}: the SuperNode stopped (exit {node.returncode}): {tail}")
    return 0


GAVE_UP = "Giving up reconnection"  # Flower 1.41's SuperNode, after --max-wait-time of failed tries


class _LogWatch:
    """Whether a growing log has shown a text yet (reads only what was appended since the last look)."""

    def __init__(self, log: Path):
        self.log, self.pos, self.buf = log, 0, ""

    def has(self, text: str) -> bool:
        try:
            with open(self.log, "rb") as f:
                f.seek(self.pos)
                new = f.read()
        except OSError:
            return False
        self.pos += len(new)
        self.buf = (self.buf + new.decode(errors="replace"))[-(len(text) + 4096) :]
        return text in self.buf


def _count(log: Path, text: str) -> int:
    try:
        return log.read_text(errors="replace").count(text)
    except OSError:
        return 0
