"""Train the recognition model that ships with mexlab (analysis/models/recognition_default.safetensors).

Trained only on what mexlab makes here: the varied rig's *tuning* identities (analysis/recognition/
rigdata.py; 12 subjects × ≤ 40 micro-expressions), views rgb (flow) + diff (apex − onset image) —
the rig's depth has no expression in it, so the shipped model needs no depth and runs on any video —
MvCL pretraining on every segment (others included, unlabelled), then the 3-class classifier.
It is then tested on the *held-out* identities (other people's photographs), never seen in
training; that score goes into the model's metadata.

    nice -n 10 .venv/bin/python bench/recognition_default_model.py --train /tmp/rig_tuning \\
        --test /tmp/rig_heldout [--out analysis/models/recognition_default.safetensors]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from analysis.recognition import modelfile
    from analysis.recognition import task as T
    from analysis.recognition.protocol import Config

    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True, type=Path)
    ap.add_argument("--test", required=True, type=Path)
    ap.add_argument("--out", type=Path, default=modelfile.DEFAULT_MODEL)
    a = ap.parse_args()
    cfg = Config(views=("rgb", "diff"), pretrain="mvcl")
    t0 = time.perf_counter()
    tr = T.load_dataset([f"casme3:{a.train}"], "3", cfg.views, include_unlabelled=True)
    te = T.load_dataset([f"casme3:{a.test}"], "3", cfg.views)
    model = T.new_model(3, cfg.views, seed=cfg.seed, width=cfg.width)
    pre = T.pretrain_mvcl(
        model,
        tr,
        cfg.pretrain_epochs,
        cfg.pretrain_lr,
        seed=cfg.seed,
        batch_size=cfg.pretrain_batch,
        temperature=cfg.temperature,
    )
    rec = T.train(model, tr, cfg.epochs, cfg.lr, seed=cfg.seed, batch_size=cfg.batch_size)
    m = T.evaluate(model, te)
    meta = {
        "classes": tr.class_names,
        "kind": "classifier (MvCL-pretrained), shipped default",
        "width": cfg.width,
        "trained_on": "the simulated rig only: varied-rig identities of the tuning split "
        "(astronaut, pexels_woman; 12 identity warps), no real person's "
        "micro-expressions. Labels from the rig's AUs (docs/recognition.md). "
        "Retrain on your own data: mexlab recognition train.",
        "training": {
            **tr.summary,
            "n_unlabelled": int((tr.y < 0).sum()),
            "config": cfg.as_dict(),
            "pretrain": pre,
            "train": rec,
        },
        "metrics": {
            "test": "held-out rig identities (grace_hopper, pyfeat_man warps), never seen in training",
            "uf1": round(m["uf1"], 4),
            "uar": round(m["uar"], 4),
            "accuracy": round(m["accuracy"], 4),
            "n": m["n"],
            "per_class": m["per_class"],
            "confusion": m["confusion"],
        },
    }
    modelfile.save(a.out, model, meta)
    print(
        f"{a.out}: held-out UF1 {m['uf1']:.3f} UAR {m['uar']:.3f} acc {m['accuracy']:.3f} "
        f"(n {m['n']}); {time.perf_counter() - t0:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
