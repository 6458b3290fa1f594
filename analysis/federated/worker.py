"""What a site answers to a message (numpy in, numpy out; no flwr), and the warm site worker.

:func:`answer` is the whole of a site's reply: its data (loaded once per process), the model
signature check, local training or evaluation, the refusal codes. The ClientApp (``apps.py``)
calls it in its own process, or, in a deployment, hands the message to the **site worker**:
``mexlab fl site`` keeps torch, the model code and the site's features loaded in its own process
and serves :func:`answer` on a Unix socket in its private state folder (mode 0700, an auth key in
a 0600 file). Flower 1.41 starts a new ``flwr-clientapp`` process for every message; with the worker
that process no longer imports torch or reads the site's data, which was about half of each
message's CPU. Without a worker (``mexlab fl simulate``, or the worker gone) the ClientApp answers
itself: the same function, the same reply.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.federated import site as site_mod

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np

_SITES: dict = {}  # node config → SiteData or the error text (kept for the process's life)
_SIGS: dict = {}  # id(SiteData) → this site's model signature
_LOCK = threading.Lock()
WORKER_KEYS = ("worker", "worker-key-file")
#: node-config key of ``mexlab fl site --slowdown F`` (a trial setting): after training an update the
#: site waits (F - 1) x the whole message's time so far (from the coordinator's sending it, through
#: Flower's delivery and the ClientApp's start, to the trained update; its training time when the
#: message carries no usable time) before replying, as a machine F times slower would
SLOWDOWN_KEY = "slowdown"
#: a message older than this (or from the future) has a clock that cannot be trusted for the wait
_MAX_MESSAGE_AGE_S = 3600.0


def slowdown_factor(node_config: Mapping[str, Any]) -> float:
    """This site's ``--slowdown`` factor (1 when none or not a finite number >= 1)."""
    try:
        f = float(node_config.get(SLOWDOWN_KEY, 1.0))
    except (TypeError, ValueError):
        return 1.0
    return f if math.isfinite(f) and f >= 1.0 else 1.0


def node_site(node_config: Mapping[str, Any]) -> tuple[str, object]:
    """(site name, SiteData or the MexlabError message) for this SuperNode's node config."""
    cfg = {k: node_config[k] for k in sorted(node_config) if k not in (*WORKER_KEYS, SLOWDOWN_KEY)}
    key = repr(cfg)
    name = str(cfg.get("site-name", "site"))
    if key not in _SITES:
        specs = [s for s in str(cfg.get("data", "")).split("|") if s]
        views = tuple(v for v in str(cfg.get("views", "rgb,depth")).split(",") if v)
        try:
            data = site_mod.load_features(
                specs,
                classes=str(cfg.get("classes", "3")),
                views=views,
                truth=str(cfg["truth"]) if cfg.get("truth") else None,
            )
            num = int(cfg.get("num-sites", 0)) or None
            _SITES[key] = site_mod.split_site(
                data, site_index=int(cfg.get("site-index", 0)), num_sites=num, where=f"site {name}"
            )
        except Exception as exc:  # noqa: BLE001 - reported to the site's own status, as a code upstream
            _SITES[key] = f"{type(exc).__name__}: {exc}"
    return name, _SITES[key]


def answer(
    node_config: Mapping[str, Any], weights: list[np.ndarray], conf: dict, training: bool, sent_at: float | None = None
) -> dict:
    """The site's reply as plain values: name, sig, delta (or None), metrics (or None), error (a
    code of protocol.ERROR_CODES), detail (for the site's own status only, never sent).
    ``sent_at``: when the coordinator made the message (Unix time, Flower's ``created_at``): a
    ``--slowdown`` site stretches the whole message, not only its training."""
    name, sd = node_site(node_config)
    if isinstance(sd, str):
        return {"name": name, "sig": "", "error": "no-usable-data", "detail": sd}
    if id(sd) not in _SIGS:
        _SIGS[id(sd)] = site_mod.model_signature(
            site_mod.initial_weights(len(sd.class_names), sd.views), sd.class_names, sd.views
        )
    sig = _SIGS[id(sd)]
    if sig != conf.get("model-sig") or site_mod.model_signature(weights, sd.class_names, sd.views) != sig:
        return {
            "name": name,
            "sig": sig,
            "error": "incompatible-model",
            "detail": f"the coordinator's model ({conf.get('model-sig')}) is not this site's ({sig}): "
            "different mexlab versions, classes or views",
        }
    version = int(conf.get("version", -1))
    try:
        if not training:
            m = site_mod.local_evaluate(sd, weights)
            m["version"] = version
            return {"name": name, "sig": sig, "metrics": m, "error": ""}
        clip = conf.get("clip")
        t_train = time.monotonic()
        delta, m = site_mod.local_train(
            sd,
            weights,
            epochs=int(conf.get("epochs", 1)),
            lr=float(conf.get("lr", 1e-3)),
            seed=int(conf.get("seed", 0)) + version,
            batch_size=int(conf.get("batch-size", 32)),
            clip=float(clip) if clip is not None else None,
            noise=float(conf.get("noise", 0.0)),
        )
    except Exception:  # noqa: BLE001 - the site keeps its traceback; the coordinator gets a code
        return {"name": name, "sig": sig, "error": "training-failed", "detail": traceback.format_exc()}
    train_s = time.monotonic() - t_train
    detail = f"ok: trained from version {version} on {m['num-examples']} samples in {train_s:.2f} s"
    slow = slowdown_factor(node_config)
    if slow > 1.0:  # a trial setting: behave like a machine `slow` times slower (never sent)
        base, what = train_s, "its training"
        age = time.time() - float(sent_at) if sent_at is not None and math.isfinite(sent_at) else -1.0
        if train_s <= age <= _MAX_MESSAGE_AGE_S:
            base, what = age, "the message's time since the coordinator sent it"
        time.sleep((slow - 1.0) * base)
        detail += f", then waited {(slow - 1.0) * base:.2f} s (--slowdown {slow:g}: (F - 1) x {what}, {base:.2f} s)"
    m["version"] = version
    return {"name": name, "sig": sig, "delta": delta, "metrics": m, "error": "", "detail": detail}


def ask(
    node_config: Mapping[str, Any], weights: list[np.ndarray], conf: dict, training: bool, sent_at: float | None = None
) -> dict | None:
    """The worker's answer, or None when this site has no worker or it does not answer (the caller
    then answers itself)."""
    path, key_file = node_config.get("worker"), node_config.get("worker-key-file")
    if not path or not key_file:
        return None
    from multiprocessing import AuthenticationError
    from multiprocessing.connection import Client

    try:
        key = Path(str(key_file)).read_bytes()
        conn = Client(str(path), family="AF_UNIX", authkey=key)
    except (OSError, EOFError, ValueError, AuthenticationError):
        return None
    try:
        conn.send((dict(node_config), [w for w in weights], dict(conf), bool(training), sent_at))
        return conn.recv()  # training takes its time: no timeout once connected
    except (OSError, EOFError):
        return None
    finally:
        conn.close()


class SiteWorker:
    """Serves :func:`answer` on a Unix socket from a thread of ``mexlab fl site``'s process."""

    def __init__(self, folder: Path, warm_config: dict | None = None):
        import os
        import secrets
        from multiprocessing.connection import Listener

        self.path = Path(folder) / "worker.sock"
        self.key_file = Path(folder) / "worker.key"
        key = secrets.token_bytes(32)
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        self.listener = Listener(str(self.path), family="AF_UNIX", authkey=key)
        self.closed = False
        self.thread = threading.Thread(target=self._serve, name="mexlab-fl-site-worker", daemon=True)
        self.thread.start()
        if warm_config is not None:  # torch, the data and the signature ready before the first message
            threading.Thread(target=self._warm, args=(dict(warm_config),), daemon=True).start()

    def _warm(self, node_config: dict) -> None:
        with _LOCK:
            _, sd = node_site(node_config)
            if isinstance(sd, str):
                return
            w0 = site_mod.initial_weights(len(sd.class_names), sd.views)
            if id(sd) not in _SIGS:
                _SIGS[id(sd)] = site_mod.model_signature(w0, sd.class_names, sd.views)
            # one throw-away local epoch and evaluation: the first training step of a process
            # imports torch._dynamo (through torch.optim), ~2.4 CPU-s that the first message
            # would otherwise wait for; the results are discarded, nothing is sent
            try:
                site_mod.local_train(sd, w0, epochs=1, lr=1e-3, seed=0, batch_size=32)
                site_mod.local_evaluate(sd, w0)
            except Exception:  # noqa: BLE001 - a real message reports its own error
                pass

    def node_config(self) -> dict:
        return {"worker": str(self.path), "worker-key-file": str(self.key_file)}

    def _serve(self) -> None:
        while not self.closed:
            try:
                conn = self.listener.accept()
            except Exception:  # noqa: BLE001 - closed, or a client without the key
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn) -> None:
        try:
            node_config, weights, conf, training, sent_at = conn.recv()
            with _LOCK:  # one message at a time, as a SuperNode runs them
                reply = answer(node_config, weights, conf, training, sent_at)
            conn.send(reply)
        except (OSError, EOFError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.closed = True
        try:
            self.listener.close()
        except OSError:
            pass
