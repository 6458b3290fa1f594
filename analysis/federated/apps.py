"""mexlab's Flower apps: the ClientApp a site runs and the ServerApp the coordinator runs.

``client`` answers ``train`` (local training from the global version it got; replies with
parameter deltas, the sample count and metrics) and ``evaluate`` (scores on the site's held-out
subjects). ``server`` runs FedBuff, FedAsync (``server_loop``) or Flower's FedAvg (``fedavg``) and
writes every global version to the run folder (``runrecord``). Imports flwr: only fl code loads it.
"""

from __future__ import annotations

import traceback

from flwr.app import Context, Message
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from analysis.federated import protocol, site as site_mod

client = ClientApp()
server = ServerApp()

_SITES: dict = {}          # node config → SiteData (kept for the life of the ClientApp process)
_SIGS: dict = {}           # id(SiteData) → this site's model signature


def node_site(node_config) -> tuple[str, object]:
    """(site name, SiteData or the MexlabError message) for this SuperNode's node config."""
    cfg = {k: node_config[k] for k in sorted(node_config)}
    key = repr(cfg)
    name = str(cfg.get("site-name", "site"))
    if key not in _SITES:
        specs = [s for s in str(cfg.get("data", "")).split("|") if s]
        views = tuple(v for v in str(cfg.get("views", "rgb,depth")).split(",") if v)
        try:
            data = site_mod.load_features(specs, classes=str(cfg.get("classes", "3")), views=views,
                                          truth=str(cfg["truth"]) if cfg.get("truth") else None)
            num = int(cfg.get("num-sites", 0)) or None
            _SITES[key] = site_mod.split_site(data, site_index=int(cfg.get("site-index", 0)),
                                              num_sites=num, where=f"site {name}")
        except Exception as exc:   # noqa: BLE001 - reported to the site's own status, as a code upstream
            _SITES[key] = f"{type(exc).__name__}: {exc}"
    return name, _SITES[key]


def _write_status(node_config, text: str) -> None:
    path = node_config.get("status-file")
    if path:
        import os
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.replace(tmp, path)


def _refuse(msg: Message, context: Context, name: str, sig: str, code: str, detail: str) -> Message:
    _write_status(context.node_config, f"{code}: {detail}")
    return Message(protocol.reply_content(name, sig, error=code), reply_to=msg)


@client.train()
def train(msg: Message, context: Context) -> Message:
    return _handle(msg, context, training=True)


@client.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    return _handle(msg, context, training=False)


def _handle(msg: Message, context: Context, training: bool) -> Message:
    name, sd = node_site(context.node_config)
    conf = dict(msg.content["config"])
    weights = msg.content["arrays"].to_numpy_ndarrays()
    if isinstance(sd, str):
        return _refuse(msg, context, name, "", "no-usable-data", sd)
    if id(sd) not in _SIGS:
        _SIGS[id(sd)] = site_mod.model_signature(site_mod.initial_weights(len(sd.class_names), sd.views),
                                                 sd.class_names, sd.views)
    sig = _SIGS[id(sd)]
    if sig != conf.get("model-sig") or site_mod.model_signature(weights, sd.class_names, sd.views) != sig:
        return _refuse(msg, context, name, sig, "incompatible-model",
                       f"the coordinator's model ({conf.get('model-sig')}) is not this site's ({sig}): "
                       "different mexlab versions, classes or views")
    version = int(conf.get("version", -1))
    try:
        if not training:
            m = site_mod.local_evaluate(sd, weights)
            m["version"] = version
            return Message(protocol.reply_content(name, sig, metrics=m), reply_to=msg)
        clip = conf.get("clip")
        delta, m = site_mod.local_train(sd, weights, epochs=int(conf.get("epochs", 1)),
                                        lr=float(conf.get("lr", 1e-3)), seed=int(conf.get("seed", 0)) + version,
                                        batch_size=int(conf.get("batch-size", 32)),
                                        clip=float(clip) if clip is not None else None,
                                        noise=float(conf.get("noise", 0.0)))
    except Exception:  # noqa: BLE001 - the site keeps its traceback; the coordinator gets a code
        return _refuse(msg, context, name, sig, "training-failed", traceback.format_exc())
    m["version"] = version
    _write_status(context.node_config, f"ok: trained from version {version} on {m['num-examples']} samples")
    return Message(protocol.reply_content(name, sig, delta=delta, metrics=m), reply_to=msg)


@server.main()
def main(grid: Grid, context: Context) -> None:
    from analysis.federated.runner import serve

    serve(grid, dict(context.run_config))
