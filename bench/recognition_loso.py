"""Recognition bench: LOSO UF1/UAR of the baselines and MvCL at several label fractions, time and
memory of a LOSO run, per-sample inference time.

    nice -n 10 .venv/bin/python bench/recognition_loso.py --data /tmp/rig_heldout \\
        [--make heldout --subjects 12 --per-subject 40] [--runs NAME,...] [--fractions 0.05,0.1,0.25,1]

``--make SPLIT`` first writes the rig data set (analysis/recognition/rigdata.py) to ``--data``.
Runs (each a full LOSO with the fixed budget of analysis/recognition/protocol.Config):
``sup-rgb``, ``sup-depth``, ``sup-rgb+depth``, ``sup-rgb+diff``, ``mvcl-rgb+depth``,
``mvcl-rgb+diff`` (strict), ``mvcl-rgb+diff-trans`` (transductive). One JSON line per run is
appended to ``--log``; a markdown table is printed at the end.

``--inference --samples N`` only times per-sample inference on N samples of ``--data`` (medians, the
first sample of each kind dropped as warm-up; wall and CPU; load average): live classification
(analysis/recognition/live.py with the shipped model, as live flags do: with the live spotter's
landmarks handed over, and with the face model run again, alternating) and landmarks + alignment +
features + the model (the model alone given apart). No LOSO.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RUNS = {
    "sup-rgb": dict(views=("rgb",)),
    "sup-depth": dict(views=("depth",)),
    "sup-rgb+depth": dict(views=("rgb", "depth")),
    "sup-rgb+diff": dict(views=("rgb", "diff")),
    "mvcl-rgb+depth": dict(views=("rgb", "depth"), pretrain="mvcl"),
    "mvcl-rgb+diff": dict(views=("rgb", "diff"), pretrain="mvcl"),
    "mvcl-rgb+diff-trans": dict(views=("rgb", "diff"), pretrain="mvcl", regime="transductive"),
    "mvcl-rgb+depth-trans": dict(views=("rgb", "depth"), pretrain="mvcl", regime="transductive"),
    "sup-roi": dict(views=("roi",)),
    "sup-rgb+roi": dict(views=("rgb", "roi")),
    "mvcl-rgb+roi": dict(views=("rgb", "roi"), pretrain="mvcl"),
}


def inference_ms(data, n: int = 30) -> dict:
    """Median ms per sample: the model alone (one sample at a time), and features + model on the
    rig's frames (read from the image files, landmarks, flow)."""
    import numpy as np

    from analysis.recognition import task as T

    model = T.new_model(len(data.class_names), ("rgb", "diff"))
    one = []
    for i in range(min(n, len(data))):
        s = T.subset(data, [i])
        t = time.perf_counter()
        T.predict_proba(model, s)
        one.append((time.perf_counter() - t) * 1000)
    return {"model_ms_median": float(np.median(one))}


def features_ms(spec: str, n: int = 20) -> dict:
    """Median ms per sample of the per-sample work once the frames are in memory (as in a live
    recording): landmarks on the onset frame, alignment, flow, the views; then the model."""
    import numpy as np

    from analysis.datasets import read_spec
    from analysis.datasets.sample import read_frames
    from analysis.face.landmarker import FaceTracker
    from analysis.recognition import features as F
    from analysis.recognition import task as T
    from analysis.spotting import regions as R

    res = read_spec(spec, "3")
    model = T.new_model(3, ("rgb", "diff"))
    feat, total, cpu, alone = [], [], [], []
    with FaceTracker() as tr:
        for j, s in enumerate(res.usable[:n]):
            fr = read_frames(s.rgb, [s.onset, s.apex])
            t, c = time.perf_counter(), time.process_time()
            face = tr.process(fr[s.onset], 1000.0 * (j + 1))
            m = R.align_matrix(face.landmarks, F.CROP)
            mask = R.face_mask(R.to_crop(m, face.landmarks), F.CROP)
            v = F.rgb_views(fr[s.onset], fr[s.apex], m, mask)
            t1 = time.perf_counter()
            fs = T.FeatureSet(
                {k: v[k][None].astype(np.float32) for k in ("rgb", "diff")},
                np.zeros(1, np.int64),
                [""],
                ["a", "b", "c"],
                ("rgb", "diff"),
            )
            T.predict_proba(model, fs)
            t2 = time.perf_counter()
            cpu.append((time.process_time() - c) * 1000)
            feat.append((t1 - t) * 1000)
            total.append((t2 - t) * 1000)
            alone.append((t2 - t1) * 1000)
    return {
        "model_alone_ms_median": float(np.median(alone[1:])),
        "features_ms_median": float(np.median(feat[1:])),
        "features_plus_model_ms_median": float(np.median(total[1:])),
        "features_plus_model_cpu_ms_median": float(np.median(cpu[1:])),
        "n": len(total) - 1,
    }


def live_ms(spec: str, n: int = 20) -> dict:
    """Median wall/CPU ms of one live classification (analysis/recognition/live.py: the default
    model on an onset/apex pair of face crops, as live flags do), over ``n`` rig samples: as live
    flags are classified now, with the live spotter's landmarks handed over (here: the face
    model's landmarks of the onset frame, found before the clock starts, as the spotter found them
    before the flag), and with the face model run again on the onset frame (``face_model_*``)."""
    import numpy as np

    from analysis.datasets import read_spec
    from analysis.datasets.sample import read_frames
    from analysis.face.landmarker import FaceTracker
    from analysis.recognition.live import LiveRecognizer

    res = read_spec(spec, "3")
    runs = {"handed": ([], [], [0]), "face_model": ([], [], [0])}
    with LiveRecognizer() as rec, FaceTracker(max_side=None) as tracker:
        for k, s in enumerate(res.usable[:n]):
            fr = read_frames(s.rgb, [s.onset, s.apex])
            face = tracker.process(fr[s.onset], 1000.0 * (k + 1))
            order = ("handed", "face_model") if k % 2 else ("face_model", "handed")
            for how in order:
                if how == "handed" and face is None:
                    continue
                wall, cpu, right = runs[how]
                lm = face.landmarks[:, :2] if how == "handed" else None
                c = time.process_time()
                r = rec.classify(fr[s.onset], fr[s.apex], landmarks=lm)
                cpu.append((time.process_time() - c) * 1000)
                if r is not None:
                    wall.append(r.seconds * 1000)
                    right[0] += int(r.label == s.label)
    out = {}
    for how, (wall, cpu, right) in runs.items():
        pre = "live" if how == "handed" else "live_face_model"
        out |= {
            f"{pre}_ms_median": float(np.median(wall[1:])),
            f"{pre}_ms_max": float(max(wall[1:])),
            f"{pre}_cpu_ms_median": float(np.median(cpu[1:])),
            f"{pre}_n": len(wall) - 1,
            f"{pre}_correct": right[0],
        }
    return out | {"load": round(os.getloadavg()[0], 1)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--make", choices=["tuning", "heldout"])
    ap.add_argument("--subjects", type=int, default=12)
    ap.add_argument("--per-subject", type=int, default=40)
    ap.add_argument("--runs", default=",".join(RUNS))
    ap.add_argument("--fractions", default="1")
    ap.add_argument("--plan", help="RUN@FRACTION,... in this order (instead of --runs × --fractions)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--pretrain-epochs", type=int, default=15)
    ap.add_argument("--log", type=Path, default=Path("/tmp/recognition_bench.jsonl"))
    ap.add_argument("--timing", action="store_true", help="also time inference")
    ap.add_argument("--live-only", action="store_true", help="only time live classification")
    ap.add_argument(
        "--inference",
        action="store_true",
        help="only time per-sample inference (the model alone, landmarks + features + model, live "
        "classification) over --samples samples; no LOSO",
    )
    ap.add_argument("--samples", type=int, default=20, help="samples timed by --inference / --live-only / --timing")
    ap.add_argument(
        "--depth-avg",
        type=int,
        metavar="N",
        help="depth frames averaged at each end (default: features.DEPTH_AVG; 1 = the onset and apex frames alone)",
    )
    a = ap.parse_args()
    from analysis.recognition import features as FE
    from analysis.recognition import task as T

    if a.depth_avg is not None:
        FE.DEPTH_AVG = max(1, a.depth_avg)  # read by features.compute at call time (and in its cache key)
    from analysis.recognition.protocol import Config, loso

    if a.make:
        from analysis.recognition.rigdata import make_rig_release

        make_rig_release(
            a.data, split=a.make, n_subjects=a.subjects, per_subject=a.per_subject, seed=1 if a.make == "heldout" else 0
        )
    spec = f"casme3:{a.data}"
    if a.live_only:
        print(json.dumps(live_ms(spec, a.samples)), flush=True)
        return 0
    if a.inference:
        n = a.samples + 1  # the first of each is dropped (warm-up)
        print(
            json.dumps(
                {"load_at_start": round(os.getloadavg()[0], 1), "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
            ),
            flush=True,
        )
        print(json.dumps(live_ms(spec, n)), flush=True)
        print(json.dumps({**features_ms(spec, n), "load": round(os.getloadavg()[0], 1)}), flush=True)
        return 0
    t0 = time.perf_counter()
    data = T.load_dataset([spec], "3", ("rgb", "diff", "depth", "roi"), include_unlabelled=True)
    print(f"# {len(data)} segments ({data.summary}), features {time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    if a.plan:
        plan = [(p.split("@")[0], float(p.split("@")[1])) for p in a.plan.split(",")]
    else:
        plan = [(n, float(f)) for n in a.runs.split(",") for f in a.fractions.split(",")]
    for name, f in plan:
        if True:
            cfg = Config(**RUNS[name], label_fraction=f, epochs=a.epochs, pretrain_epochs=a.pretrain_epochs)
            t, c = time.perf_counter(), time.process_time()
            r = loso(data, cfg)
            row = {
                "run": name,
                "fraction": f,
                "uf1": round(r["uf1"], 4),
                "uar": round(r["uar"], 4),
                "accuracy": round(r["accuracy"], 4),
                "n": r["n_samples"],
                "subjects": r["n_subjects"],
                "wall_s": round(time.perf_counter() - t, 1),
                "cpu_s": round(time.process_time() - c, 1),
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                "load": round(os.getloadavg()[0], 1),
                "data": str(a.data),
                "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                "config": cfg.as_dict(),
                "depth_avg": FE.DEPTH_AVG,
            }
            rows.append(row)
            with open(a.log, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(
                json.dumps(
                    {
                        k: row[k]
                        for k in ("run", "fraction", "uf1", "uar", "wall_s", "cpu_s", "maxrss_mb", "load", "depth_avg")
                    }
                ),
                flush=True,
            )
    if a.timing:
        print(
            json.dumps(
                {**inference_ms(data, a.samples), **features_ms(spec, a.samples), "load": round(os.getloadavg()[0], 1)}
            ),
            flush=True,
        )
    print("| run | labels | UF1 | UAR | wall s | CPU s |\n|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['run']} | {r['fraction']:.0%} | {r['uf1']:.3f} | {r['uar']:.3f} | "
            f"{r['wall_s']:.0f} | {r['cpu_s']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
