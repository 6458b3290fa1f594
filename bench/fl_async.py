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
    # FedAvg vs FedBuff (vs FedAsync) in real loopback deployments, 5 sites, site5 --slowdown 8:
    nice -n 15 .venv/bin/python bench/fl_async.py --deploy-compare 5 --rounds 5 --epochs 3 --json out.json
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

    motion = [1.4, 1.6, 1.8, 2.0, 2.2]  # per site: noise ("head motion") level
    specs = []
    for i, m in enumerate(motion):
        d = synthetic.make(
            5, per_subject=12, seed=seed + i, motion=[m] * 5, prefix=f"s{i}p", signal=0.3, label_noise=0.1, shift=4
        )
        p = folder / f"site{i + 1}.npz"
        site.save_features(p, d)
        specs.append(f"features:{p}")
    return specs


def rig_sets(
    folder: Path,
    n_site_subjects: int = 20,
    n_test_subjects: int = 6,
    per_subject: int = 12,
    size=(480, 360),
    views=("rgb", "diff"),
) -> tuple[Path, Path]:
    """The simulated rig's recognition data (analysis/recognition/rigdata.py, read through the
    casme3 reader, features by analysis/recognition/features.py): the sites' subjects from the
    *tuning* people, the final test subjects from the *held-out* people (never seen by a site, never
    used to choose a setting). Written once to FOLDER/sites.npz and FOLDER/test.npz."""
    from analysis.federated import site
    from analysis.recognition import task
    from analysis.recognition.rigdata import make_rig_release

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, split, n, seed in (("sites", "tuning", n_site_subjects, 0), ("test", "heldout", n_test_subjects, 1)):
        npz = folder / f"{name}.npz"
        if not npz.exists():
            rel = folder / f"{name}_release"
            if not rel.exists():
                t0 = time.monotonic()
                make_rig_release(
                    rel,
                    split=split,
                    n_subjects=n,
                    per_subject=per_subject,
                    size=size,
                    seed=seed,
                    progress=lambda i, k, who: print(
                        f"{name}: rendered subject {i}/{k} ({who})", file=sys.stderr, flush=True
                    ),
                )
                print(f"{name}: release {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
            t0 = time.monotonic()
            data = task.load_dataset([f"casme3:{rel}"], "3", tuple(views))
            site.save_features(npz, data)
            print(
                f"{name}: {len(data)} samples, {data.summary}, features {time.monotonic() - t0:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        out.append(npz)
    return out[0], out[1]


def time_to(history: list[dict], target: float) -> float | None:
    for h in history:
        if h.get("uf1", -1) >= target:
            return h["t"]
    return None


def tree_rss(p) -> tuple[int, dict]:
    """Resident memory of a process and its children: (sum of each process name's peak, per name)."""
    import psutil

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


def launch_setup() -> tuple[int, list[str], dict, Path]:
    """A free loopback port, the `mexlab fl` command line, its environment and working folder."""
    import socket

    with socket.socket() as s_:
        s_.bind(("127.0.0.1", 0))
        port = s_.getsockname()[1]
    mexlab = [sys.executable, "-m", "app.cli", "fl"]
    return port, mexlab, dict(os.environ, FLWR_TELEMETRY_ENABLED="0"), Path(__file__).resolve().parents[1]


def watch_peaks(coord, sites: list, deadline: float) -> tuple[int, dict, int, dict]:
    """Sample the coordinator's and the sites' process trees every 0.5 s until the coordinator
    ends or ``deadline`` (time.monotonic()): (coordinator peak, its per-name, one site's peak, its
    per-name)."""
    peak_c, peak_s, per_c, per_s = 0, 0, {}, {}
    while coord.poll() is None and time.monotonic() < deadline:
        c, pc = tree_rss(coord)
        if c > peak_c:
            peak_c, per_c = c, pc
        for sp in sites:
            v, ps = tree_rss(sp)
            if v > peak_s:
                peak_s, per_s = v, ps
        time.sleep(0.5)
    return peak_c, per_c, peak_s, per_s


def deploy_run(n_sites: int, updates: int, seed: int) -> dict:
    """One real loopback deployment (mexlab fl coordinator + N mexlab fl site): wall time, bytes,
    peak RSS of the coordinator's and the sites' process trees (sampled every 0.5 s)."""
    import subprocess

    from analysis.federated.deploy import stop

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        specs = make_sites(tmp, seed)[:n_sites]
        port, mexlab, env, cwd = launch_setup()
        t0 = time.monotonic()
        coord = subprocess.Popen(
            mexlab
            + [
                "coordinator",
                "--address",
                f"127.0.0.1:{port}",
                "--insecure",
                "--updates",
                str(updates),
                "--epochs",
                "1",
                "--min-sites",
                str(n_sites),
                "--out",
                str(tmp / "run"),
            ],
            cwd=cwd,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(3)
        sites = [
            subprocess.Popen(
                mexlab
                + [
                    "site",
                    "--coordinator",
                    f"127.0.0.1:{port}",
                    "--insecure",
                    "--data",
                    sp,
                    "--site-name",
                    f"site{i + 1}",
                ],
                cwd=cwd,
                env=env,
                stderr=subprocess.DEVNULL,
            )
            for i, sp in enumerate(specs)
        ]
        try:
            peak_c, per_c, peak_s, per_s = watch_peaks(coord, sites, t0 + 1800)
        finally:
            for p in [coord] + sites:
                stop(p, timeout=10)
        wall = time.monotonic() - t0
        st = json.loads((tmp / "run" / "status.json").read_text())
        mb = 1024 * 1024
        return {
            "sites": n_sites,
            "updates": updates,
            "rc": coord.returncode,
            "wall_s": round(wall, 1),
            "versions": st["version"],
            "bytes_up": st["bytes_up"],
            "bytes_down": st["bytes_down"],
            "coordinator_peak_rss_mb": round(peak_c / mb),
            "site_peak_rss_mb": round(peak_s / mb),
            "coordinator_processes_mb": {k: round(v / mb) for k, v in per_c.items()},
            "site_processes_mb": {k: round(v / mb) for k, v in per_s.items()},
        }


def site_files(sites_npz: Path, folder: Path, n_sites: int, views) -> tuple[list[Path], object, list]:
    """The virtual bench's split of SITES_NPZ by subject over N sites (``simulation.split_config``:
    site i gets subjects i, i+N, ... of ``site.split_site``'s order), one feature file per site, so
    that each real ``mexlab fl site`` holds out the very subjects its simulated twin holds out.
    Returns the files, the union of the sites' held-out subjects (what the versions are scored on)
    and each site's own held-out samples."""
    from analysis.federated import site
    from analysis.federated.simulation import _concat
    from analysis.recognition import task

    data = site.read_features(str(sites_npz), views)
    order = site._order(sorted(set(data.subjects)), 0)
    files, held = [], []
    for i in range(n_sites):
        mine = set(order[i::n_sites])
        part = task.subset(data, [j for j, s in enumerate(data.subjects) if s in mine])
        f = folder / f"site{i + 1}.npz"
        site.save_features(f, part)
        files.append(f)
        alone = site.split_site(site.read_features(str(f), views), where=f"site{i + 1}")
        twin = site.split_site(data, site_index=i, num_sites=n_sites, where=f"site{i + 1}")
        assert sorted(set(alone.held.subjects)) == sorted(set(twin.held.subjects)), "split differs"
        assert alone.n_train == twin.n_train, "split differs"
        held.append(alone.held)
    return files, _concat(held), held


def deploy_strategy(
    strategy: str,
    count: int,
    files: list[Path],
    out: Path,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    views,
    slow_factor: float,
    timeout_s: float,
) -> dict:
    """One real loopback deployment: `mexlab fl coordinator` + one `mexlab fl site` per file (the
    last one with --slowdown SLOW_FACTOR), as ``deploy_run`` starts them; logs kept in OUT."""
    import subprocess

    from analysis.federated.deploy import stop

    out.mkdir(parents=True, exist_ok=True)
    port, mexlab, env, cwd = launch_setup()
    count_opt = ["--rounds", str(count)] if strategy == "fedavg" else ["--updates", str(count)]
    load_before = os.getloadavg()
    t0, launched = time.monotonic(), time.time()
    coord = subprocess.Popen(
        mexlab
        + ["coordinator", "--address", f"127.0.0.1:{port}", "--insecure", "--strategy", strategy, *count_opt]
        + ["--epochs", str(epochs), "--lr", str(lr), "--batch-size", str(batch_size), "--views", ",".join(views)]
        + ["--min-sites", str(len(files)), "--out", str(out / "run")],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(out / "coordinator.err", "wb"),
    )
    sites = []
    for i, f in enumerate(files):
        slow = ["--slowdown", f"{slow_factor:g}"] if i == len(files) - 1 and slow_factor != 1 else []
        sites.append(
            subprocess.Popen(
                mexlab
                + ["site", "--coordinator", f"127.0.0.1:{port}", "--insecure", "--data", f"features:{f}"]
                + ["--views", ",".join(views), "--site-name", f"site{i + 1}", "--wait", "300", *slow],
                cwd=cwd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(out / f"site{i + 1}.err", "wb"),
            )
        )
    try:
        peak_c, per_c, peak_s, per_s = watch_peaks(coord, sites, t0 + timeout_s)
    finally:
        timed_out = coord.poll() is None
        for p in [coord] + sites:
            stop(p, timeout=10)
    wall = time.monotonic() - t0
    mb = 1024 * 1024
    try:
        st = json.loads((out / "run" / "status.json").read_text())
    except (OSError, ValueError):
        st = {}
    try:  # the ServerApp writes run.json when its loop begins (its clock's zero, near enough)
        serverapp_s = round(json.loads((out / "run" / "run.json").read_text())["started"] - launched, 1)
    except (OSError, ValueError, KeyError):
        serverapp_s = None
    return {
        "strategy": strategy,
        "count": count,
        "rc": coord.returncode,
        "timed_out": timed_out,
        "wall_s": round(wall, 1),
        "serverapp_started_s": serverapp_s,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "version": st.get("version"),
        "bytes_up": st.get("bytes_up"),
        "bytes_down": st.get("bytes_down"),
        "site_updates": {k: v.get("updates", 0) for k, v in (st.get("sites") or {}).items()},
        "site_final_uf1": {
            k: round(float(v.get("uf1", float("nan"))), 4)
            for k, v in ((st.get("final") or {}).get("per_site") or {}).items()
        },
        "coordinator_peak_rss_mb": round(peak_c / mb),
        "site_peak_rss_mb": round(peak_s / mb),
        "coordinator_processes_mb": {k: round(v / mb) for k, v in per_c.items()},
        "site_processes_mb": {k: round(v / mb) for k, v in per_s.items()},
    }


def version_history(run: Path, held) -> list[dict]:
    """Every global version the coordinator wrote (versions/vNNNNN.safetensors): its time on the
    ServerApp's wall clock (the lineage's ``virtual_or_wall_t``, seconds since the ServerApp's loop
    began) and its UF1/UAR on the union of the sites' held-out subjects, scored here."""
    from analysis.recognition import modelfile, task

    rows = []
    for f in sorted((run / "versions").glob("v*.safetensors")):
        model, meta = modelfile.load(f)
        m = task.evaluate(model, held)
        fed = meta["federated"]
        rows.append(
            {
                "version": int(fed["version"]),
                "t": float(fed["virtual_or_wall_t"]),
                "uf1": round(float(m["uf1"]), 4),
                "uar": round(float(m["uar"]), 4),
            }
        )
    return sorted(rows, key=lambda r: r["t"])


def final_per_site(run: Path, held_per_site: list) -> dict:
    """UF1 of the run's last global version on each site's own held-out samples (site1, site2, …)."""
    from analysis.recognition import modelfile, task

    files = sorted((run / "versions").glob("v*.safetensors"))
    if not files:
        return {}
    model, _ = modelfile.load(files[-1])
    return {f"site{i + 1}": round(float(task.evaluate(model, h)["uf1"]), 4) for i, h in enumerate(held_per_site)}


def training_start(run: Path, strategy: str, n_sites: int, history: list[dict]) -> float | None:
    """When training began on the ServerApp's clock, all N sites there: FedAvg writes version 0 once
    its N sites are listed (``runner.wait_for_sites``, then Flower's round-0 evaluation); FedBuff and
    FedAsync write version 0 at once and start when the N-th site joins (its ``site-joined`` event)."""
    if strategy == "fedavg":
        v0 = [h["t"] for h in history if h["version"] == 0]
        return v0[0] if v0 else None
    try:
        events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines() if x.strip()]
    except OSError:
        return None
    joined = sorted(e["t"] for e in events if e.get("kind") == "site-joined")
    return joined[n_sites - 1] if len(joined) >= n_sites else None


def update_intervals(run: Path) -> dict:
    """Per site, the median wall seconds between two of its accepted updates (FedBuff/FedAsync's
    events): how much slower the --slowdown site really was, message overheads included."""
    try:
        events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines() if x.strip()]
    except OSError:
        return {}
    times: dict = {}
    for e in events:
        if e.get("kind") in ("buffered", "merged") and "," not in str(e.get("site")):
            times.setdefault(e["site"], []).append(e["t"])
    return {s: med([round(b - a, 2) for a, b in zip(ts, ts[1:])]) for s, ts in sorted(times.items())}


def slowdown_lines(err: Path) -> dict:
    """The slow site's own log: training seconds and the waits its --slowdown added, per update."""
    import re

    train, wait = [], []
    try:
        text = err.read_text(errors="replace")
    except OSError:
        return {}
    for m in re.finditer(r"in ([0-9.]+) s, then waited ([0-9.]+) s", text):
        train.append(float(m.group(1)))
        wait.append(float(m.group(2)))
    fast = [float(x) for x in re.findall(r"samples in ([0-9.]+) s$", text, re.M)]
    return {"updates_logged": len(train) or len(fast), "train_s_median": med(train or fast), "wait_s_median": med(wait)}


def deploy_compare(a) -> dict:
    """FedAvg (R rounds), FedBuff (15 R updates) and optionally FedAsync, each in one real loopback
    deployment on the virtual bench's rig data, N sites, the last one --slowdown F: wall time to reach
    FedAvg's final held-out UF1 (every version scored on the union of the sites' held-out subjects)."""
    import torch

    torch.set_num_threads(1)
    n = a.deploy_compare
    views = ("rgb", "diff")
    sites_npz, test_npz = rig_sets(
        a.rig_dir, n_site_subjects=a.rig_subjects, n_test_subjects=max(6, a.rig_subjects // 4), per_subject=20
    )
    work = Path(a.deploy_dir or tempfile.mkdtemp(prefix="mexlab-fl-deploy-"))
    work.mkdir(parents=True, exist_ok=True)
    files = [work / f"site{i + 1}.npz" for i in range(n)]
    _, held, held_per_site = site_files(sites_npz, work, n, views)
    if a.deploy_pooled:  # before the runs: a wrong split or file fails here, not after an hour
        from analysis.federated import site
        from analysis.federated.simulation import _concat

        train_all = _concat([site.split_site(site.read_features(str(f), views), where=f.stem).train for f in files])
    res = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nice": os.nice(0),
        "data": f"rig features {sites_npz} split by subject over {n} sites (as the virtual bench)",
        "heldout_samples": len(held),
        "sites": n,
        "slow_site": f"site{n}",
        "slowdown": a.slowdown,
        "rounds": a.rounds,
        "async_updates": a.async_updates or 15 * a.rounds,
        "epochs": a.epochs,
        "lr": a.lr,
        "batch_size": a.batch_size,
        "seed": 0,
        "work": str(work),
        "runs": {},
    }

    def save():
        if a.json:
            a.json.write_text(json.dumps(res, indent=1, default=float))

    target = t_avg = None
    for strategy in [s for s in a.deploy_strategies.split(",") if s]:
        count = a.rounds if strategy == "fedavg" else res["async_updates"]
        print(
            f"{strategy}: starting ({count} {'rounds' if strategy == 'fedavg' else 'updates'}), load {os.getloadavg()}",
            file=sys.stderr,
            flush=True,
        )
        r = deploy_strategy(
            strategy,
            count,
            files,
            work / strategy,
            epochs=a.epochs,
            lr=a.lr,
            batch_size=a.batch_size,
            views=views,
            slow_factor=a.slowdown,
            timeout_s=a.run_timeout,
        )
        hist = version_history(work / strategy / "run", held)
        t_start = training_start(work / strategy / "run", strategy, n, hist)
        r["training_start_t"] = t_start
        r["history"] = [{**h, "t_train": round(h["t"] - (t_start or 0.0), 2)} for h in hist]
        r["final_heldout_uf1"] = hist[-1]["uf1"] if hist else None
        r["final_version"] = hist[-1]["version"] if hist else None
        # each site's own held-out subjects scored here on the final version (a site busy training
        # when the run ends sends no final evaluation of its own)
        r["site_heldout_uf1_scored"] = final_per_site(work / strategy / "run", held_per_site)
        r["slow_site_log"] = slowdown_lines(work / strategy / f"site{n}.err")
        r["fast_site_log"] = slowdown_lines(work / strategy / "site1.err")
        if strategy != "fedavg":
            r["update_interval_s_median"] = update_intervals(work / strategy / "run")
        if strategy == "fedavg" and hist and not r["timed_out"]:
            target = hist[-1]["uf1"]
            t_avg = time_to([{"t": h["t_train"], "uf1": h["uf1"]} for h in r["history"]], target)
        res["runs"][strategy] = r
        res["target_fedavg_final_uf1"] = target
        for rr in res["runs"].values():
            tt = (
                time_to([{"t": h["t_train"], "uf1": h["uf1"]} for h in rr["history"]], target)
                if target is not None
                else None
            )
            rr["time_to_target_s"] = tt
            rr["ratio_vs_fedavg"] = round(tt / t_avg, 3) if tt is not None and t_avg else None
        save()
        print(
            f"{strategy}: rc {r['rc']}, wall {r['wall_s']} s, final version {r['final_version']}, held-out UF1 "
            f"{r['final_heldout_uf1']}, time to FedAvg's final {r.get('time_to_target_s')} s, load {os.getloadavg()}",
            file=sys.stderr,
            flush=True,
        )
    if a.deploy_pooled:
        res["pooled"] = deploy_pooled(a, train_all, held, held_per_site, views, n, res["async_updates"])
        print(f"pooled: {res['pooled']}", file=sys.stderr, flush=True)
    res["load_after"] = os.getloadavg()
    save()
    return res


def deploy_pooled(a, train_all, held, held_per_site, views, n_sites: int, updates: int) -> dict:
    """The deployment's model trained on all the sites' training data together, with the virtual
    bench's budget (``simulation.simulate``: epochs x updates / sites passes, seed 0): scored on the
    union of the sites' held-out subjects and on each site's own."""
    from analysis.federated.server_loop import LoopConfig
    from analysis.federated.simulation import pooled_epochs
    from analysis.recognition import task

    cfg = LoopConfig()
    ep = pooled_epochs(a.epochs, updates, n_sites)
    t0 = time.monotonic()
    model = task.new_model(len(held.class_names), views, cfg.seed)
    task.train(model, train_all, epochs=ep, lr=a.lr, seed=cfg.seed, batch_size=a.batch_size)
    m = task.evaluate(model, held)
    return {
        "epochs": ep,
        "train_samples": len(train_all),
        "uf1": round(float(m["uf1"]), 4),
        "uar": round(float(m["uar"]), 4),
        "per_site_uf1": [round(float(task.evaluate(model, h)["uf1"]), 4) for h in held_per_site],
        "wall_s": round(time.monotonic() - t0, 1),
    }


def print_compare(res: dict) -> None:
    print(
        f"{res['sites']} sites (site{res['sites']} --slowdown {res['slowdown']:g}), FedAvg {res['rounds']} rounds, "
        f"async {res['async_updates']} updates; target = FedAvg's final held-out UF1 {res.get('target_fedavg_final_uf1')}"
    )
    hdr = f"{'strategy':<10}{'wall s':>8}{'to target s':>12}{'x FedAvg':>9}{'final UF1':>10}{'versions':>9}{'MB up':>8}{'coord MB':>9}{'site MB':>8}  load before/after"
    print(hdr)
    for s_, r in res["runs"].items():
        print(
            f"{s_:<10}{r['wall_s']:>8}{str(r.get('time_to_target_s')):>12}{str(r.get('ratio_vs_fedavg')):>9}"
            f"{str(r.get('final_heldout_uf1')):>10}{str(r.get('final_version')):>9}"
            f"{(r.get('bytes_up') or 0) / 1e6:>8.1f}{r['coordinator_peak_rss_mb']:>9}{r['site_peak_rss_mb']:>8}"
            f"  {r['load_before'][0]:.1f}/{r['load_after'][0]:.1f}"
        )


def slow_site_alone(spec: str, n_sites: int, slow: int, views, rc: dict, epochs_list) -> dict:
    """The slow site trained on its own training subjects only (no federation), scored on its own
    held-out subjects, for each budget in ``epochs_list`` (local epochs)."""
    from analysis.federated import apps
    from analysis.federated.simulation import split_config
    from analysis.recognition import task

    conf = split_config([spec], n_sites, views, "3")[slow]
    _, sd = apps.node_site(conf)
    out = {}
    for ep in epochs_list:
        model = task.new_model(len(sd.class_names), tuple(views), int(rc["seed"]))
        task.train(
            model,
            sd.train,
            epochs=max(1, int(ep)),
            lr=float(rc["lr"]),
            seed=int(rc["seed"]),
            batch_size=int(rc["batch-size"]),
        )
        out[str(ep)] = round(float(task.evaluate(model, sd.held)["uf1"]), 4)
    return out


def med(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else round((xs[n // 2 - 1] + xs[n // 2]) / 2, 4)


# the settings compared (chosen on the sites' own held-out subjects, never on the test subjects)
GRID = {
    "fedavg": {"strategy": "fedavg"},
    "fedbuff-k3": {"strategy": "fedbuff", "k": 3, "server-lr": 1.0},
    "fedbuff-k5": {"strategy": "fedbuff", "k": 5, "server-lr": 1.0},
    "fedbuff-k3-lr0.5": {"strategy": "fedbuff", "k": 3, "server-lr": 0.5},
    "fedbuff-k5-m0.5": {"strategy": "fedbuff", "k": 5, "server-lr": 0.5, "server-momentum": 0.5},
    "fedbuff-k3-lr0.5-m0.5": {"strategy": "fedbuff", "k": 3, "server-lr": 0.5, "server-momentum": 0.5},
    "fedbuff-k3-a1": {"strategy": "fedbuff", "k": 3, "server-lr": 1.0, "a": 1.0},
    "fedasync-0.3": {"strategy": "fedasync", "alpha": 0.3},
    "fedasync-0.5": {"strategy": "fedasync", "alpha": 0.5},
    "fedasync-0.8": {"strategy": "fedasync", "alpha": 0.8},
}


def message_cost(repeats: int = 2) -> dict:
    """CPU and wall time of one training message as Flower runs it (a fresh process importing flwr
    and mexlab's apps), answered in that process vs by a warm site worker (analysis/federated/worker.py)."""
    import subprocess

    import numpy as np

    from analysis.federated import site, synthetic, worker

    tmp = Path(tempfile.mkdtemp())
    site.save_features(tmp / "s.npz", synthetic.make(3, per_subject=6, seed=5, prefix="w"))
    node = {"site-name": "labw", "data": f"features:{tmp / 's.npz'}", "views": "rgb,depth", "classes": "3"}
    _, sd = worker.node_site(node)
    w0 = site.initial_weights(len(sd.class_names), sd.views)
    conf = {
        "version": 0,
        "epochs": 1,
        "lr": 0.003,
        "seed": 0,
        "batch-size": 8,
        "model-sig": site.model_signature(w0, sd.class_names, sd.views),
    }
    np.savez(tmp / "w.npz", *w0)
    (tmp / "state").mkdir(mode=0o700)
    wk = worker.SiteWorker(tmp / "state", warm_config=node)
    child = (
        f"import sys, json, numpy as np; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
        "import flwr.clientapp, flwr.app\nfrom analysis.federated import apps, worker\n"
        f"z = np.load({str(tmp / 'w.npz')!r}); w = [z[f'arr_{{i}}'] for i in range(len(z.files))]\n"
        "node, conf = json.loads(sys.argv[2]), json.loads(sys.argv[3])\n"
        "r = worker.ask(node, w, conf, True) if sys.argv[1] == 'worker' else worker.answer(node, w, conf, True)\n"
        "assert r and r['error'] == '', r\n"
    )
    res = {"load_before": os.getloadavg()}
    for mode in ("in-process", "worker") * repeats:
        cfg = {**node, **wk.node_config()} if mode == "worker" else node
        r0, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        subprocess.run(
            [sys.executable, "-c", child, mode, json.dumps(cfg), json.dumps(conf)],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res.setdefault(mode, []).append(
            {
                "cpu_s": round(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, 2),
                "wall_s": round(time.monotonic() - t, 1),
            }
        )
    wk.close()
    res["load_after"] = os.getloadavg()
    return res


def summarize(rows: dict, seeds) -> dict:
    """Medians over the runs of each setting; the chosen FedBuff / FedAsync setting is the one with
    the best median UF1 on the sites' own held-out subjects (never the test subjects)."""
    summary = {
        "seeds": list(seeds),
        "per_seed": rows,
        "median": {
            s: {k: med([row[k] for row in v]) for k in v[0] if isinstance(v[0][k], (int, float)) or v[0][k] is None}
            for s, v in rows.items()
        },
    }
    for s, v in rows.items():
        if "slow_site_alone_uf1" in v[0]:
            summary["median"][s]["slow_site_alone_uf1"] = {
                "same_time" if i == 0 else "long": med([list(r["slow_site_alone_uf1"].values())[i] for r in v])
                for i in range(len(v[0]["slow_site_alone_uf1"]))
            }
    for strat in ("fedbuff", "fedasync"):
        cands = [n for n in rows if n.startswith(strat)]
        if cands:
            # final held-out UF1, ties broken by the mean over the last 10 versions (a setting
            # whose versions swing loses)
            summary[f"chosen_{strat}"] = max(
                cands,
                key=lambda n: (
                    summary["median"][n]["heldout_uf1"],
                    summary["median"][n].get("heldout_last10_mean") or 0,
                ),
            )
    return summary


def merge(files: list[Path]) -> dict:
    """One summary from several bench JSON files (e.g. one process per seed)."""
    parts = [json.loads(f.read_text()) for f in files]
    rows, seeds = {}, []
    for part in parts:
        seeds += part["summary"]["seeds"]
        for name, v in part["summary"]["per_seed"].items():
            for row, runs in zip(v, part["runs"]):  # rows written before these two existed
                last = [h["uf1"] for h in runs[name]["history"] if "uf1" in h][-10:]
                row.setdefault("heldout_last10_mean", round(sum(last) / len(last), 4))
                row.setdefault("heldout_last10_range", round(max(last) - min(last), 4))
            rows.setdefault(name, []).extend(v)
    out = {k: parts[0][k] for k in parts[0] if k not in ("runs", "summary", "load_after")}
    out["loads"] = [(p["load_before"], p["load_after"]) for p in parts]
    out["summary"] = summarize(rows, seeds)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", choices=("rig", "synthetic"), default="rig")
    ap.add_argument(
        "--rig-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "mexlab-fl-rig",
        help="rig data sets (made there once, ~4-10 min)",
    )
    ap.add_argument("--rig-subjects", type=int, default=40, help="subjects across the sites (rig)")
    ap.add_argument("--rounds", type=int, default=10, help="FedAvg rounds (async: 5x updates per round x3)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seeds", default="0,1,2", help="training seeds (rig) / data seeds (synthetic)")
    ap.add_argument("--settings", default=",".join(GRID), help=f"of {', '.join(GRID)}")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--deploy",
        type=int,
        default=0,
        metavar="N",
        help="instead: one real loopback deployment with N sites (wall time, memory)",
    )
    ap.add_argument(
        "--deploy-compare",
        type=int,
        nargs="?",
        const=5,
        default=0,
        metavar="N",
        help="instead: FedAvg vs FedBuff (vs FedAsync) in real loopback deployments, N sites (5), the "
        "last one --slowdown F: wall time to FedAvg's final held-out UF1",
    )
    ap.add_argument("--slowdown", type=float, default=8.0, help="--deploy-compare: the last site's factor (8)")
    ap.add_argument(
        "--deploy-strategies", default="fedavg,fedbuff,fedasync", help="--deploy-compare: in this order (fedavg first)"
    )
    ap.add_argument(
        "--async-updates", type=int, help="--deploy-compare: FedBuff/FedAsync updates (default 15 x --rounds)"
    )
    ap.add_argument(
        "--deploy-pooled",
        action="store_true",
        help="--deploy-compare: also train the model on all the sites' training data together (the pooled baseline)",
    )
    ap.add_argument("--deploy-dir", type=Path, help="--deploy-compare: keep the runs' folders and logs here")
    ap.add_argument("--run-timeout", type=float, default=1500.0, help="--deploy-compare: seconds per run at most")
    ap.add_argument("--merge", type=Path, nargs="+", help="instead: merge these bench JSON files")
    ap.add_argument(
        "--message-cost",
        action="store_true",
        help="instead: one ClientApp message's CPU/wall, in-process vs the warm site worker",
    )
    a = ap.parse_args()

    if a.message_cost:
        print(json.dumps(message_cost(), indent=1))
        return 0
    if a.merge:
        res = merge(a.merge)
        print(
            json.dumps(
                {
                    "median": res["summary"]["median"],
                    **{k: v for k, v in res["summary"].items() if k.startswith("chosen")},
                },
                indent=1,
            )
        )
        if a.json:
            a.json.write_text(json.dumps(res, indent=1))
        return 0
    if a.deploy_compare:
        print_compare(deploy_compare(a))
        return 0
    if a.deploy:
        res = deploy_run(a.deploy, 5 * a.rounds, 7)
        res["load"] = os.getloadavg()
        print(json.dumps(res, indent=1))
        if a.json:
            a.json.write_text(json.dumps(res, indent=1))
        return 0
    import torch

    torch.set_num_threads(1)
    from analysis.federated import site
    from analysis.federated.simulation import simulate

    n_sites, slow = 5, 4
    speeds = [1.0, 1.0, 1.0, 1.0, 8.0]
    views = ("rgb", "diff") if a.data == "rig" else ("rgb", "depth")
    settings = [x for x in a.settings.split(",") if x]
    out = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_before": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "speeds": speeds,
        "data": a.data,
        "rounds": a.rounds,
        "epochs": a.epochs,
        "lr": a.lr,
        "batch_size": a.batch_size,
        "runs": [],
    }
    seeds = [int(x) for x in a.seeds.split(",")]
    test = None
    if a.data == "rig":
        sites_npz, test_npz = rig_sets(
            a.rig_dir, n_site_subjects=a.rig_subjects, n_test_subjects=max(6, a.rig_subjects // 4), per_subject=20
        )
        test = site.read_features(str(test_npz), views)
    rows = {}

    def save(runs_so_far=None):
        out["summary"] = summarize(rows, seeds) if rows else {}
        if runs_so_far is not None:
            out.setdefault("partial", {})[str(runs_so_far.get("_seed"))] = {
                k: v for k, v in runs_so_far.items() if k != "_seed"
            }
        out["load_after"] = os.getloadavg()
        if a.json:
            a.json.write_text(json.dumps(out, indent=1, default=float))

    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            specs = [f"features:{sites_npz}"] if a.data == "rig" else make_sites(Path(tmp), 7 + seed)
            base = {
                "epochs": a.epochs,
                "lr": a.lr,
                "batch-size": a.batch_size,
                "views": ",".join(views),
                "k": 3,
                "alpha": 0.5,
                "a": 0.5,
                "tau-max": 32,
                "min-sites": n_sites,
                "seed": seed if a.data == "rig" else 0,
            }
            runs = {"_seed": seed}
            for name in settings:
                rc = {**base, **GRID[name]}
                # async: 3x FedAvg's update budget (FedAvg waits for the slow site every round)
                rc["updates"] = a.rounds if rc["strategy"] == "fedavg" else 15 * a.rounds
                t0 = time.monotonic()
                r = simulate(specs, n_sites, speeds, rc, test=test)
                r["wall_s"] = round(time.monotonic() - t0, 1)
                r.pop("events", None)
                runs[name] = r
                print(
                    f"seed {seed} {name}: held-out UF1 {r['final']['uf1']:.3f} (pooled {r['pooled']['uf1']:.3f})"
                    + (f", test {r['test_final']['uf1']:.3f} (pooled {r['test_pooled']['uf1']:.3f})" if test else "")
                    + f", virtual {r['virtual_time']:.1f} s, wall {r['wall_s']} s",
                    file=sys.stderr,
                    flush=True,
                )
                save(runs)
            runs.pop("_seed")
            alone = None
            if a.data == "rig":
                n_slow = max(r["per_site"][slow]["updates"] for r in runs.values())
                alone = slow_site_alone(
                    specs[0], n_sites, slow, views, base, [a.epochs * max(1, n_slow), a.epochs * a.rounds * 3]
                )
        target = runs["fedavg"]["final"]["uf1"] if "fedavg" in runs else None
        t_avg = time_to(runs["fedavg"]["history"], target) if target is not None else None
        for name, r in runs.items():
            tt = time_to(r["history"], target) if target is not None else None
            others = [x["uf1"] for i, x in enumerate(r["per_site"]) if i != slow]
            row = {
                "seed": seed,
                "heldout_uf1": r["final"]["uf1"],
                "heldout_pooled_uf1": r["pooled"]["uf1"],
                "heldout_minus_pooled": round(r["final"]["uf1"] - r["pooled"]["uf1"], 4),
                "time_to_fedavg_final": tt,
                "time_ratio_vs_fedavg": round(tt / t_avg, 3) if tt is not None and t_avg else None,
                "virtual_time": r["virtual_time"],
                "updates": r["updates"],
                "slow_site_uf1": r["per_site"][slow]["uf1"],
                "slow_site_updates": r["per_site"][slow]["updates"],
                "other_sites_uf1_median": med(others),
                "slow_minus_others": round(r["per_site"][slow]["uf1"] - med(others), 4),
                "bytes_per_update": round(r["bytes_sent"] / max(r["updates"], 1)),
                "bytes_sent_run": r["bytes_sent"],
                "wall_s": r["wall_s"],
            }
            if test is not None:
                row.update(
                    {
                        "test_uf1": r["test_final"]["uf1"],
                        "test_uar": r["test_final"]["uar"],
                        "test_pooled_uf1": r["test_pooled"]["uf1"],
                        "test_minus_pooled": round(r["test_final"]["uf1"] - r["test_pooled"]["uf1"], 4),
                    }
                )
            last = [h["uf1"] for h in r["history"] if "uf1" in h][-10:]
            row["heldout_last10_mean"] = round(sum(last) / len(last), 4) if last else None
            row["heldout_last10_range"] = round(max(last) - min(last), 4) if last else None
            if alone:
                row["slow_site_alone_uf1"] = alone
            rows.setdefault(name, []).append(row)
        out["runs"].append({k: {kk: vv for kk, vv in v.items()} for k, v in runs.items()})
    summary = summarize(rows, seeds)
    summary["peak_rss_mb_one_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["summary"] = summary
    out["load_after"] = os.getloadavg()
    print(
        json.dumps(
            {"median": summary["median"], **{k: v for k, v in summary.items() if k.startswith("chosen")}}, indent=1
        )
    )
    if a.json:
        a.json.write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
