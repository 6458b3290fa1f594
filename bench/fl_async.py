"""Asynchronous vs synchronous federated learning on a virtual clock (figures for docs/federated.md
and docs/benchmarks.md).

5 sites, non-IID by subject (each site its own subjects, class mix and "head motion" noise level),
one site 8x slower. FedAvg (Flower's, sync) runs R rounds; FedBuff and FedAsync get a fixed number
of site updates (15 R, three times FedAvg's 5 R). Reported: virtual time to reach FedAvg's final UF1, final UF1 and UAR on the
union of the sites' held-out subjects, the same model trained on all the training data pooled, the
slow site's own held-out UF1 vs the others', bytes per update and per run, peak memory.

Data: analysis.federated.synthetic feature sets (the recognition task's input shapes; NOT
micro-expressions: no public ME database is on this machine). Model, training, evaluation: the
recognition task's. Settings were chosen before the run and not tuned on its results.

    nice -n 10 .venv/bin/python bench/fl_async.py [--rounds 6] [--seeds 7,8,9] [--json out.json]
    nice -n 10 .venv/bin/python bench/fl_async.py --deploy 3 --rounds 2     # one real loopback run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_sites(folder: Path, seed: int = 7) -> list[str]:
    from analysis.federated import site, synthetic

    motion = [1.4, 1.6, 1.8, 2.0, 2.2]                  # per site: noise ("head motion") level
    specs = []
    for i, m in enumerate(motion):
        d = synthetic.make(5, per_subject=12, seed=seed + i, motion=[m] * 5, prefix=f"s{i}p",
                           signal=0.3, label_noise=0.1, shift=4)
        p = folder / f"site{i + 1}.npz"
        site.save_features(p, d)
        specs.append(f"features:{p}")
    return specs


def time_to(history: list[dict], target: float) -> float | None:
    for h in history:
        if h.get("uf1", -1) >= target:
            return h["t"]
    return None


def deploy_run(n_sites: int, updates: int, seed: int) -> dict:
    """One real loopback deployment (mexlab fl coordinator + N mexlab fl site): wall time, bytes,
    peak RSS of the coordinator's and the sites' process trees (sampled every 0.5 s)."""
    import psutil
    import socket
    import subprocess

    from analysis.federated.deploy import stop

    def tree_rss(p):
        try:
            root = psutil.Process(p.pid)
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            return 0, {}
        per = {}
        for q in procs:
            try:
                per[q.name()] = max(per.get(q.name(), 0), q.memory_info().rss)
            except psutil.NoSuchProcess:
                pass
        return sum(per.values()), per

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        specs = make_sites(tmp, seed)[:n_sites]
        with socket.socket() as s_:
            s_.bind(("127.0.0.1", 0))
            port = s_.getsockname()[1]
        mexlab = [sys.executable, "-m", "app.cli", "fl"]
        env = dict(os.environ, FLWR_TELEMETRY_ENABLED="0")
        cwd = Path(__file__).resolve().parents[1]
        t0 = time.monotonic()
        coord = subprocess.Popen(mexlab + ["coordinator", "--address", f"127.0.0.1:{port}", "--insecure",
                                           "--updates", str(updates), "--epochs", "1", "--min-sites",
                                           str(n_sites), "--out", str(tmp / "run")],
                                 cwd=cwd, env=env, stderr=subprocess.DEVNULL)
        time.sleep(3)
        sites = [subprocess.Popen(mexlab + ["site", "--coordinator", f"127.0.0.1:{port}", "--insecure",
                                            "--data", sp, "--site-name", f"site{i + 1}"],
                                  cwd=cwd, env=env, stderr=subprocess.DEVNULL) for i, sp in enumerate(specs)]
        peak_c, peak_s, per_c, per_s = 0, 0, {}, {}
        try:
            while coord.poll() is None and time.monotonic() - t0 < 1800:
                c, pc = tree_rss(coord)
                if c > peak_c:
                    peak_c, per_c = c, pc
                for sp in sites:
                    v, ps = tree_rss(sp)
                    if v > peak_s:
                        peak_s, per_s = v, ps
                time.sleep(0.5)
        finally:
            for p in [coord] + sites:
                stop(p, timeout=10)
        wall = time.monotonic() - t0
        st = json.loads((tmp / "run" / "status.json").read_text())
        mb = 1024 * 1024
        return {"sites": n_sites, "updates": updates, "rc": coord.returncode, "wall_s": round(wall, 1),
                "versions": st["version"], "bytes_up": st["bytes_up"], "bytes_down": st["bytes_down"],
                "coordinator_peak_rss_mb": round(peak_c / mb), "site_peak_rss_mb": round(peak_s / mb),
                "coordinator_processes_mb": {k: round(v / mb) for k, v in per_c.items()},
                "site_processes_mb": {k: round(v / mb) for k, v in per_s.items()}}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seeds", default="7", help="data seeds, comma-separated (medians reported)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--deploy", type=int, default=0, metavar="N",
                    help="instead: one real loopback deployment with N sites (wall time, memory)")
    a = ap.parse_args()

    if a.deploy:
        res = deploy_run(a.deploy, 5 * a.rounds, 7)
        res["load"] = os.getloadavg()
        print(json.dumps(res, indent=1))
        if a.json:
            a.json.write_text(json.dumps(res, indent=1))
        return 0
    import torch

    torch.set_num_threads(1)
    from analysis.federated.runner import simulate

    speeds = [1.0, 1.0, 1.0, 1.0, 8.0]
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "load_before": os.getloadavg(),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "speeds": speeds,
           "rounds": a.rounds, "epochs": a.epochs, "lr": a.lr, "runs": {}}
    seeds = [int(x) for x in a.seeds.split(",")]
    per_seed = []
    for seed in seeds:
        runs = {}
        with tempfile.TemporaryDirectory() as tmp:
            specs = make_sites(Path(tmp), seed)
            base = {"epochs": a.epochs, "lr": a.lr, "views": "rgb,depth", "k": 3, "alpha": 0.5, "a": 0.5,
                    "tau-max": 32, "min-sites": 5, "seed": 0}
            # the async runs get 3x FedAvg's update budget: enough virtual time for the slow site
            # to send a few updates (FedAvg waits for it every round)
            for strat, n in (("fedavg", a.rounds), ("fedbuff", 15 * a.rounds), ("fedasync", 15 * a.rounds)):
                t0 = time.monotonic()
                r = simulate(specs, 5, speeds, {**base, "strategy": strat, "updates": n})
                r["wall_s"] = round(time.monotonic() - t0, 1)
                r.pop("events", None)
                runs[strat] = r
                print(f"seed {seed} {strat}: final UF1 {r['final']['uf1']:.3f}, pooled (same budget) "
                      f"{r['pooled']['uf1']:.3f}, virtual {r['virtual_time']:.1f} s, wall {r['wall_s']} s",
                      file=sys.stderr, flush=True)
        per_seed.append(runs)
    out["runs"] = per_seed

    def med(xs):
        xs = sorted(x for x in xs if x is not None)
        return xs[len(xs) // 2] if xs else None

    rows = {}
    for runs in per_seed:
        target = runs["fedavg"]["final"]["uf1"]
        t_avg = time_to(runs["fedavg"]["history"], target)
        for strat, r in runs.items():
            tt = time_to(r["history"], target)
            slow = [s["uf1"] for s in r["per_site"] if s["speed"] == 8.0][0]
            others = sorted(s["uf1"] for s in r["per_site"] if s["speed"] != 8.0)
            rows.setdefault(strat, []).append({
                "target_uf1": target, "time_to_target": tt, "fedavg_time_to_target": t_avg,
                "time_ratio_vs_fedavg": round(tt / t_avg, 3) if tt is not None and t_avg else None,
                "final_uf1": r["final"]["uf1"], "final_uar": r["final"]["uar"],
                "pooled_uf1": r["pooled"]["uf1"], "final_minus_pooled": round(r["final"]["uf1"] - r["pooled"]["uf1"], 4),
                "virtual_time": r["virtual_time"], "updates": r["updates"],
                "slow_site_uf1": slow, "other_sites_uf1_median": others[len(others) // 2],
                "slow_minus_others": round(slow - others[len(others) // 2], 4),
                "slow_site_updates": [s["updates"] for s in r["per_site"] if s["speed"] == 8.0][0],
                "bytes_per_update": round(r["bytes_sent"] / max(r["updates"], 1)),
                "bytes_sent_run": r["bytes_sent"], "bytes_received_run": r["bytes_received"],
                "wall_s": r["wall_s"]})
    summary = {"seeds": seeds, "per_seed": rows,
               "median": {s: {k: med([row[k] for row in v]) for k in v[0]} for s, v in rows.items()}}
    summary["peak_rss_mb_one_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["summary"] = summary
    out["load_after"] = os.getloadavg()
    print(json.dumps(summary["median"], indent=1))
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
