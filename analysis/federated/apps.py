"""mexlab's Flower apps: the ClientApp a site runs and the ServerApp the coordinator runs.

``client`` answers ``train`` (local training from the global version it got; replies with
parameter deltas, the sample count and metrics) and ``evaluate`` (scores on the site's held-out
subjects). ``server`` runs FedBuff, FedAsync (``server_loop``) or Flower's FedAvg (``fedavg``) and
writes every global version to the run folder (``runrecord``). Imports flwr: only fl code loads it.
"""

from __future__ import annotations

from flwr.app import Context, Message
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from analysis.federated import protocol, worker

client = ClientApp()
server = ServerApp()

node_site = worker.node_site  # (site name, SiteData or error text) for a node config


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
    conf = dict(msg.content["config"])
    weights = msg.content["arrays"].to_numpy_ndarrays()
    # the site worker (mexlab fl site's own process, torch and data warm) when there is one;
    # else this process answers: the same function
    sent_at = msg.metadata.created_at
    res = worker.ask(context.node_config, weights, conf, training, sent_at) or worker.answer(
        context.node_config, weights, conf, training, sent_at
    )
    if res["error"]:
        return _refuse(msg, context, res["name"], res["sig"], res["error"], res.get("detail", ""))
    if training:
        _write_status(context.node_config, res["detail"])
    return Message(
        protocol.reply_content(res["name"], res["sig"], delta=res.get("delta"), metrics=res["metrics"]), reply_to=msg
    )


@server.main()
def main(grid: Grid, context: Context) -> None:
    from analysis.federated.runner import serve

    serve(grid, dict(context.run_config))
