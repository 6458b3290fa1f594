"""The real Flower deployment engine on loopback: `mexlab fl coordinator` (flower-superlink + the
ServerApp through `flwr run`) and three `mexlab fl site`s (flower-supernode + the ClientApp), one
pulled out mid-run and started again. (A site whose model is not the coordinator's is refused in
test_federated_tls.py's deployment, which runs the same engine with TLS.)"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from analysis.federated import site, synthetic
from tests.helpers_fl import free_port, kill_group, read_status, start_mexlab

pytestmark = [pytest.mark.learning]

# The issue asks for <= 90 s. Before the warm site worker the whole test took 216 s at load ~30
# (every message a site receives starts a flwr-clientapp process that imported torch); with it,
# 116 s at load 10-18. With mexlab's lighter Flower launchers, Flower's 1 s task polling and the
# other cuts of 2026-12-02 (about half the CPU), 85-123 s, median 100 s, at load 4-16 (docs/federated.md,
# "Where the deployment test's time goes", which also says how a site killed mid-upload used to
# stall the run: server_loop.bound_reply_pulls). The bound stays generous for CI under load: the
# time is a benchmark figure, not an assertion. 2026-12-03, without the refused site (now in
# test_federated_tls.py): 72-75 s at load 7-9, 114-187 s at load 10-14 (the 187 s: the kill landed
# mid-upload, the bounded 60-s wait).
LIMIT_S = 240


def _files(tmp: Path, n: int = 3) -> list[str]:
    specs = []
    for i in range(n):
        p = tmp / f"site{i}.npz"
        site.save_features(p, synthetic.make(3, per_subject=6, seed=20 + i, prefix=f"p{i}x"))
        specs.append(f"features:{p}")
    return specs


@pytest.mark.slow
@pytest.mark.timeout(LIMIT_S + 150)
def test_deployment_on_loopback_survives_a_site_pulled_out(tmp_path):
    specs = _files(tmp_path)
    port = free_port()
    out = tmp_path / "run"
    procs = []
    t0 = time.monotonic()
    try:
        coord = start_mexlab(
            [
                "fl",
                "coordinator",
                "--address",
                f"127.0.0.1:{port}",
                "--insecure",
                "--updates",
                "4",  # with --buffer 2: versions 1 and 2 (a 5th update would only be buffered, never merged)
                "--buffer",
                "2",
                "--epochs",
                "1",
                "--min-sites",
                "3",
                "--wait-sites",
                "60",
                "--out",
                str(out),
            ],
            tmp_path,
            "coord",
        )
        procs.append(coord)
        # the sites start with the coordinator, as in separate terminals: each waits (--wait) until
        # the coordinator answers, loading torch and its data meanwhile
        sites = {}
        for i, spec in enumerate(specs):
            sites[i] = start_mexlab(
                [
                    "fl",
                    "site",
                    "--coordinator",
                    f"127.0.0.1:{port}",
                    "--insecure",
                    "--data",
                    spec,
                    "--site-name",
                    f"lab{i}",
                    "--wait",
                    "60",
                    "--reconnect",
                    "10",
                ],
                tmp_path,
                f"site{i}",
            )
            procs.append(sites[i])
        while not (tmp_path / "coord.err").read_text(errors="replace").count("listening"):
            assert coord.poll() is None, (tmp_path / "coord.err").read_text()
            assert time.monotonic() - t0 < 150, "the coordinator did not start"  # up to its 120-s SuperLink wait
            time.sleep(0.3)
        while read_status(out).get("version", 0) < 1:
            assert coord.poll() is None, (tmp_path / "coord.err").read_text()
            assert time.monotonic() - t0 < LIMIT_S, "no merge in time"
            time.sleep(0.3)
        kill_group(sites[2])  # lab2 pulled out mid-run
        sites[2].wait(10)
        time.sleep(1.0)
        sites[2] = start_mexlab(
            [
                "fl",
                "site",
                "--coordinator",
                f"127.0.0.1:{port}",
                "--insecure",
                "--data",
                specs[2],
                "--site-name",
                "lab2",
            ],
            tmp_path,
            "site2b",
        )
        procs.append(sites[2])
        rc = coord.wait(max(1.0, LIMIT_S - (time.monotonic() - t0)))
        took = time.monotonic() - t0
        err = (tmp_path / "coord.err").read_text()
        assert rc == 0, err
        assert took <= LIMIT_S
        # the run over, the sites that took part stop by themselves once the coordinator has been
        # silent for --reconnect s, with a line that says so (Flower's SuperNode gives up
        # reconnecting but does not end: the site hung, silent, and never joined a new run)
        for i in (0, 1):
            site_rc = sites[i].wait(90)
            said = (tmp_path / f"site{i}.err").read_text(errors="replace").strip().splitlines()[-1]
            assert site_rc == 0 and said.startswith(f"mexlab fl: site lab{i}: "), said
            assert any(k in said for k in ("has not answered for 10 s", "is gone", "SuperNode ended")), said
    finally:
        from concurrent.futures import ThreadPoolExecutor

        from analysis.federated.deploy import stop

        with ThreadPoolExecutor(len(procs) or 1) as pool:  # each stop waits for its tree: together
            list(pool.map(lambda p: stop(p, timeout=15), procs))
    st = read_status(out)
    assert st["final"]["per_site"], st
    events = [json.loads(ln) for ln in (out / "events.jsonl").read_text().splitlines()]
    # lab2's disconnection is logged with a reason: lost/left once Flower misses its heartbeat, or,
    # when the run ends first, its update "not waited" for
    gone = [
        e
        for e in events
        if e["kind"] in ("site-lost", "site-left", "not-waited")
        and e.get("reason")
        and e["site"] not in ("lab0", "lab1")
    ]
    assert gone, events
    # the global model improves over its start on the sites' held-out subjects
    from analysis.federated.simulation import _concat
    from analysis.recognition import task

    held = _concat([site.split_site(site.load_features([s])).held for s in specs])
    from analysis.recognition import modelfile

    versions = sorted((out / "versions").glob("v*.safetensors"))
    first, last = modelfile.load(versions[0]), modelfile.load(versions[-1])  # mexlab recognize --model
    lineage = last[1]["federated"]
    assert lineage["strategy"] == "fedbuff" and lineage["sites_merged"] and lineage["version"] >= 1
    from acquisition.catalog.recognition_models import list_models

    assert len(list_models()) == len(versions)  # every version registered
    assert task.evaluate(last[0], held)["uf1"] > task.evaluate(first[0], held)["uf1"]
