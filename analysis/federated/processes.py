"""The coordinator and site processes behind ``mexlab fl coordinator`` and ``mexlab fl site``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from acquisition.errors import MexlabError
from analysis.federated import deploy


def coordinator(address: str, run_config: dict, out: Path, *, insecure: bool, certs: dict,
                supernode_auth: bool, timeout_s: float | None = None) -> dict:
    host, port = deploy.parse_address(address, "--address")
    deploy.check_security(host, insecure, certs, "mexlab fl coordinator")
    if not deploy.port_free(host, port):
        raise MexlabError(f"--address {address}: port {port} is in use on {host} "
                          "(another coordinator? choose another port)")
    out.mkdir(parents=True, exist_ok=True)
    home = out / ".flwr"
    env = deploy.flower_env(home)
    deploy.write_cli_config(home, host, port, insecure, certs.get("ssl-ca-certfile"))
    app = deploy.write_app(out / "app", {**run_config, "out": str(out.resolve())})
    cmd = [deploy.tool("flower-superlink"), "--host", host, "--port", str(port),
           "--disable-runtime-dependency-installation", "--database", str(out / "superlink.db")]
    if insecure:
        cmd.append("--insecure")
    else:
        cmd += ["--ssl-certfile", certs["ssl-certfile"], "--ssl-keyfile", certs["ssl-keyfile"],
                "--ssl-ca-certfile", certs["ssl-ca-certfile"]]
    if supernode_auth:
        cmd.append("--enable-supernode-auth")
    (out / "status.json").unlink(missing_ok=True)
    deploy.term_as_interrupt()
    log = out / "superlink.log"
    link = None
    try:
        with open(log, "ab") as lf:
            link = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, env=env, cwd=out,
                                    start_new_session=True)
        deploy.wait_listening(host, port, link, 30, log, "the SuperLink")
        print(f"mexlab fl: coordinator listening on {host}:{port}; sites join with "
              f"`mexlab fl site --coordinator {host}:{port} --data ...`", file=sys.stderr, flush=True)
        run = subprocess.Popen([deploy.tool("flwr"), "run", str(app), "mexlab", "--stream"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                               start_new_session=True)
        t0 = time.monotonic()
        with open(out / "run.log", "a") as rl:
            for line in run.stdout:
                rl.write(line)
                if "mexlab fl:" in line:
                    print(line[line.index("mexlab fl:"):].rstrip(), file=sys.stderr, flush=True)
                if timeout_s and time.monotonic() - t0 > timeout_s:
                    deploy.stop(run)
                    raise MexlabError(f"the run did not finish within {timeout_s:.0f} s (see {out}/run.log)")
        run.wait()
    finally:
        deploy.stop(link)
    try:
        status = json.loads((out / "status.json").read_text())
    except (OSError, ValueError):
        status = {}
    if not status.get("final"):
        raise MexlabError(f"the federated run failed: {deploy.last_line(out / 'run.log')} "
                          f"(logs in {out}/run.log and {out}/superlink.log)")
    return status


def site(coordinator_addr: str, specs: list[str], name: str, *, insecure: bool, root_cert: str | None,
         auth_key: str | None, views: str, classes: str, truth: str | None,
         max_wait_s: float = 60.0, wait_s: float = 30.0) -> int:
    from analysis.federated import site as site_mod

    host, port = deploy.parse_address(coordinator_addr, "--coordinator")
    deploy.check_security(host, insecure, {"root-certificates": root_cert}, "mexlab fl site")
    if auth_key and not Path(auth_key).is_file():
        raise MexlabError(f"--auth-key {auth_key}: no such file")
    # the data is checked before anything connects: a site with nothing usable never joins
    data = site_mod.load_features(specs, classes=classes, views=tuple(views.split(",")), truth=truth)
    sd = site_mod.split_site(data, where=f"site {name}")
    t0 = time.monotonic()
    why = deploy.reachable(host, port)
    while why and time.monotonic() - t0 < wait_s:      # the coordinator may be starting
        time.sleep(1.0)
        why = deploy.reachable(host, port)
    if why:
        raise MexlabError(f"cannot reach the coordinator at {host}:{port} ({why}, for {wait_s:.0f} s); is "
                          "`mexlab fl coordinator` running there?")
    state = Path(tempfile.mkdtemp(prefix=f"mexlab-fl-{name}-"))
    status_file = state / "status.txt"
    node_cfg = {"site-name": name, "data": "|".join(str(s) for s in specs), "views": views,
                "classes": classes, "status-file": str(status_file)}
    if truth:
        node_cfg["truth"] = truth
    cmd = [deploy.tool("flower-supernode"), "--superlink", f"{host}:{port}", "--host", "127.0.0.1",
           "--port", str(deploy.free_port()), "--node-config", deploy.node_config_arg(node_cfg),
           "--max-wait-time", str(max_wait_s)]
    cmd += ["--insecure"] if insecure else ["--root-certificates", root_cert]
    if auth_key:
        cmd += ["--auth-supernode-private-key", auth_key]
    log = state / "supernode.log"
    print(f"mexlab fl: site {name}: {sd.n_train} training samples, {len(sd.held)} held out "
          f"({len(set(sd.held.subjects))} subjects); joining {host}:{port}", file=sys.stderr, flush=True)
    with open(log, "ab") as lf:
        node = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, env=deploy.flower_env(state),
                                start_new_session=True)
    last = ""
    stopped = False
    deploy.term_as_interrupt()
    try:
        while node.poll() is None:
            time.sleep(0.5)
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
                        while (node.poll() is None and time.monotonic() - t_ref < 60
                               and _count(log, "Sent successfully")
                               < _count(log, "Start `flwr-clientapp` process")):
                            time.sleep(0.5)
                        time.sleep(1.0)
                        raise MexlabError(f"site {name}: {detail}")
                    print(f"mexlab fl: site {name}: {text.splitlines()[0]}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        stopped = True
    finally:
        deploy.stop(node)
        if stopped or node.returncode in (0, None, -15):
            shutil.rmtree(state, ignore_errors=True)
    if stopped:
        print(f"mexlab fl: site {name}: stopped", file=sys.stderr)
        return 0
    if node.returncode not in (0, None) and last.startswith("ok") and deploy.reachable(host, port):
        # the coordinator went away after this site took part: the run ended (or was stopped)
        print(f"mexlab fl: site {name}: the coordinator at {host}:{port} is gone (run over)",
              file=sys.stderr)
        return 0
    if node.returncode not in (0, None):
        raise MexlabError(f"site {name}: the SuperNode stopped (exit {node.returncode}): "
                          f"{deploy.last_line(log)}")
    return 0


def _count(log: Path, text: str) -> int:
    try:
        return log.read_text(errors="replace").count(text)
    except OSError:
        return 0
