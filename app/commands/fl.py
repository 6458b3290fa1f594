"""``mexlab fl coordinator|site|status|simulate``: asynchronous federated learning across lab sites
on Flower's deployment engine (see docs/federated.md). flwr and torch load only when a command runs."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from acquisition.errors import InputError, MexlabError
from analysis.federated import FEDBUFF_SERVER_LR
from app.commands import _bounds

MAX_UPDATES = 100_000  # --updates/--rounds beyond this is a typo, not a study
MAX_SITES = 10_000  # --min-sites
MAX_WAIT_S = 7 * 24 * 3600.0  # --wait-sites, --wait: a week
MAX_SPEED = 1000.0  # fl simulate --speeds: a site 1000x slower than the fastest never reports anyway


def _default_out() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("mexlab")) / "fl" / "run"


def _common_training(p) -> None:
    p.add_argument("--strategy", choices=("fedbuff", "fedasync", "fedavg"), default="fedbuff")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--updates", type=int, help="site updates to merge (fedbuff, fedasync; default 30)")
    g.add_argument("--rounds", type=int, help="rounds (fedavg; default 10)")
    p.add_argument("--epochs", type=int, default=2, help="local epochs per update (default 2)")
    p.add_argument("--lr", type=float, default=3e-3, help="local learning rate (default 0.003)")
    p.add_argument("--batch-size", type=int, default=32, help="local mini-batch size (default 32)")
    p.add_argument("--buffer", type=int, default=3, metavar="K", help="FedBuff: updates per server step")
    p.add_argument(
        "--server-lr",
        type=float,
        default=FEDBUFF_SERVER_LR,
        metavar="ETA",
        help=f"FedBuff: server learning rate on the buffered mean delta (default {FEDBUFF_SERVER_LR}; "
        "1 is the paper's plain step)",
    )
    p.add_argument(
        "--server-momentum",
        type=float,
        default=0.0,
        metavar="BETA",
        help="FedBuff: server momentum on the trained parameters (default 0: none; BatchNorm's "
        "running statistics are averaged, never carried on; see docs/federated.md)",
    )
    p.add_argument("--alpha", type=float, default=0.5, help="FedAsync: mixing weight (default 0.5)")
    p.add_argument(
        "--staleness-exponent", type=float, default=0.5, metavar="A", help="s(tau) = (1+tau)^-A (default 0.5)"
    )
    p.add_argument(
        "--max-staleness", type=int, default=32, metavar="TAU", help="drop updates staler than this (default 32)"
    )
    p.add_argument("--clip", type=float, default=0.0, help="clip each site update to this L2 norm")
    p.add_argument(
        "--noise",
        type=float,
        default=0.0,
        help="Gaussian noise multiplier on clipped updates (site side; no accounting)",
    )
    p.add_argument("--classes", default="3", help="class scheme (3, 5, 4, 7 or a mapping file)")
    p.add_argument("--views", default="rgb,depth", help="model views (default rgb,depth)")


def _run_config(args, count_default: int) -> dict:
    n = args.updates if args.strategy != "fedavg" else args.rounds
    n = n if n is not None else (args.rounds or args.updates or count_default)
    if n < 1:
        raise MexlabError("--updates/--rounds must be >= 1")
    if n > MAX_UPDATES:
        raise MexlabError(f"--updates/--rounds {n}: at most {MAX_UPDATES}")
    # every training value checked here, before any Flower process starts (the strategies would
    # refuse some of them only inside the running ServerApp)
    for flag, value, ok, want in (
        ("--epochs", args.epochs, 1 <= args.epochs <= 1000, "an integer in 1..1000"),
        ("--lr", args.lr, math.isfinite(args.lr) and 0 < args.lr <= 10, "a number in (0, 10]"),
        ("--batch-size", args.batch_size, 1 <= args.batch_size <= 4096, "an integer in 1..4096"),
        ("--buffer", args.buffer, 1 <= args.buffer <= 1000, "an integer in 1..1000"),
        ("--server-lr", args.server_lr, math.isfinite(args.server_lr) and args.server_lr > 0, "must be > 0"),
        ("--server-momentum", args.server_momentum, 0 <= args.server_momentum < 1, "must be in [0, 1)"),
        ("--alpha", args.alpha, 0 < args.alpha <= 1, "must be in (0, 1]"),
        (
            "--staleness-exponent",
            args.staleness_exponent,
            math.isfinite(args.staleness_exponent) and args.staleness_exponent >= 0,
            "a finite number >= 0",
        ),
        ("--max-staleness", args.max_staleness, args.max_staleness >= 0, "an integer >= 0"),
        ("--clip", args.clip, math.isfinite(args.clip) and args.clip >= 0, "a finite number >= 0 (0: no clipping)"),
        ("--noise", args.noise, math.isfinite(args.noise) and args.noise >= 0, "a finite number >= 0"),
    ):
        if not ok:
            raise MexlabError(f"{flag} {value}: {want}")
    return {
        "strategy": args.strategy,
        "updates": int(n),
        "epochs": args.epochs,
        "lr": args.lr,
        "batch-size": args.batch_size,
        "k": args.buffer,
        "server-lr": args.server_lr,
        "server-momentum": args.server_momentum,
        "alpha": args.alpha,
        "a": args.staleness_exponent,
        "tau-max": args.max_staleness,
        "clip": args.clip,
        "noise": args.noise,
        "classes": str(args.classes),
        "views": args.views,
    }


def add_parser(sub) -> None:
    fl = sub.add_parser(
        "fl",
        help="federated learning across lab sites (Flower)",
        description="Train the recognition model across sites without sending any "
        "video: each site trains on its own data and sends parameter deltas.",
    )
    fsub = fl.add_subparsers(dest="fl_command", metavar="COMMAND")

    c = fsub.add_parser("coordinator", help="run the coordinator (Flower SuperLink + mexlab ServerApp)")
    c.add_argument("--address", required=True, metavar="HOST:PORT", help="where sites connect")
    _common_training(c)
    c.add_argument("--out", type=Path, help="run folder: every global version, status, logs")
    c.add_argument("--min-sites", type=int, default=2, help="sites to wait for before starting (default 2)")
    c.add_argument(
        "--wait-sites", type=float, default=600.0, metavar="S", help="seconds to wait for them (default 600)"
    )
    _tls(c, server=True)
    c.add_argument(
        "--supernode-auth",
        action="store_true",
        help="accept only SuperNodes whose public key is registered (flwr supernode register)",
    )
    c.add_argument(
        "--site-keys",
        nargs="+",
        default=[],
        metavar="KEY.pub",
        help="with --supernode-auth: sites' public keys (OpenSSH EC) to register at start",
    )
    c.set_defaults(func=run_coordinator)

    s = fsub.add_parser("site", help="join a coordinator as a site (Flower SuperNode + mexlab ClientApp)")
    s.add_argument("--coordinator", required=True, metavar="HOST:PORT")
    s.add_argument(
        "--data",
        required=True,
        nargs="+",
        metavar="SPEC",
        help="KIND:ROOT dataset specs (casme2, samm, smic, casme3, casme_sq, mexlab:SESSION,...)",
    )
    s.add_argument("--site-name", default=None, metavar="NAME", help="how the coordinator names this site")
    s.add_argument("--truth", choices=("rig",), help="label mexlab sessions from the simulated rig's truth")
    s.add_argument("--classes", default="3")
    s.add_argument("--views", default="rgb,depth")
    s.add_argument("--insecure", action="store_true", help="no TLS: loopback tests only")
    s.add_argument("--root-certificates", metavar="CA.pem", help="CA that signed the coordinator's certificate")
    s.add_argument("--auth-key", metavar="FILE", help="this site's private key (SuperNode authentication)")
    s.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds to wait for the coordinator to answer (default 30)",
    )
    s.add_argument(
        "--reconnect",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds to keep trying when the coordinator stops answering (its run ended, it stopped, the "
        "network); then the site stops with a message (default 60)",
    )
    s.add_argument(
        "--slowdown",
        default="1",
        metavar="F",
        help="trial setting: after training an update, wait (F - 1) x the message's time since the "
        "coordinator sent it before replying, as a machine F times slower would (F >= 1; default 1: no wait)",
    )
    s.set_defaults(func=run_site)

    st = fsub.add_parser("status", help="sites, their last update and staleness, the global model's metrics")
    st.add_argument("--out", type=Path, help="the coordinator's run folder")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=run_status)

    sim = fsub.add_parser("simulate", help="the same ServerApp and ClientApp on one machine, virtual clock")
    sim.add_argument("--sites", type=int, required=True)
    sim.add_argument(
        "--data",
        required=True,
        nargs="+",
        metavar="SPEC",
        help="one spec (split by subject across the sites) or one per site",
    )
    sim.add_argument("--speeds", default=None, help="site speed factors, e.g. 1,1,1.5,3,8 (1 = fastest)")
    sim.add_argument("--truth", choices=("rig",))
    _common_training(sim)
    sim.add_argument("--out", type=Path, help="also keep every version in this run folder")
    sim.add_argument("--json", action="store_true")
    sim.set_defaults(func=run_simulate)
    fl.set_defaults(func=lambda a: (fl.print_help(), 2)[1])


def _tls(p, server: bool) -> None:
    p.add_argument("--insecure", action="store_true", help="no TLS: loopback tests only")
    p.add_argument("--ssl-certfile", metavar="CERT.pem")
    p.add_argument("--ssl-keyfile", metavar="KEY.pem")
    p.add_argument("--ssl-ca-certfile", metavar="CA.pem")


def run_coordinator(args) -> int:
    from analysis.federated.processes import coordinator

    rc = _run_config(args, 30 if args.strategy != "fedavg" else 10)
    if not 1 <= args.min_sites <= MAX_SITES:
        raise MexlabError(f"--min-sites {args.min_sites}: an integer in 1..{MAX_SITES}")
    _bounds.seconds(args.wait_sites, "--wait-sites", maximum=MAX_WAIT_S, who="mexlab fl")
    rc.update({"min-sites": args.min_sites, "wait-sites": args.wait_sites})
    certs = {
        "ssl-certfile": args.ssl_certfile,
        "ssl-keyfile": args.ssl_keyfile,
        "ssl-ca-certfile": args.ssl_ca_certfile,
    }
    from acquisition.atomic import check_out_folder

    out = check_out_folder(args.out or _default_out())
    status = coordinator(
        args.address,
        rc,
        out,
        insecure=args.insecure,
        certs=certs,
        supernode_auth=args.supernode_auth,
        site_keys=args.site_keys,
    )
    print(f"version {status['version']} in {out}/versions")
    return 0


def run_site(args) -> int:
    import socket

    from analysis.federated.processes import site

    slowdown = _slowdown(args.slowdown)
    _bounds.seconds(args.wait, "--wait", maximum=MAX_WAIT_S, who="mexlab fl")
    _bounds.seconds(args.reconnect, "--reconnect", maximum=MAX_WAIT_S, who="mexlab fl")
    name = args.site_name or socket.gethostname()
    if not name.replace("-", "").replace("_", "").isalnum():
        raise MexlabError(f"--site-name {name!r}: letters, digits, - and _ only")
    return site(
        args.coordinator,
        args.data,
        name,
        insecure=args.insecure,
        root_cert=args.root_certificates,
        auth_key=args.auth_key,
        views=args.views,
        classes=str(args.classes),
        truth=args.truth,
        wait_s=max(0.0, args.wait),
        max_wait_s=args.reconnect,
        slowdown=slowdown,
    )


def _slowdown(text: str) -> float:
    try:
        f = float(text)
    except ValueError:
        f = math.nan
    if not (math.isfinite(f) and f >= 1.0):
        raise InputError(f"--slowdown {text!r}: a finite factor >= 1 (e.g. 8: the site acts 8x slower; 1: no wait)")
    return f


def run_status(args) -> int:
    import time

    from analysis.federated.runrecord import read_status

    st = read_status(args.out or _default_out())
    if args.json:
        print(json.dumps(st, indent=1))
        return 0
    age = time.time() - st.get("updated", time.time())
    state = "finished" if st.get("final") else "running"
    print(f"strategy {st.get('strategy')}, global version {st.get('version')}, {state} (updated {age:.0f} s ago)")
    gm = st.get("global_metrics") or {}
    if gm:
        print("global model: " + ", ".join(f"{k} {v}" for k, v in gm.items()))
    print(f"{'site':<16}{'updates':>8}{'rejected':>9}{'last (s)':>10}{'staleness':>10}  UF1 (own held-out)")
    final = (st.get("final") or {}).get("per_site", {})
    for name, s in sorted((st.get("sites") or {}).items()):
        uf1 = final.get(name, {}).get("uf1")
        if uf1 is None:
            uf1 = (s.get("site_uf1_of_version") or [None, None])[1]
        print(
            f"{name:<16}{s.get('updates', 0):>8}{s.get('rejected', 0):>9}{s.get('last_t', 0):>10.1f}"
            f"{'' if s.get('last_staleness') is None else s['last_staleness']:>10}  "
            f"{'' if uf1 is None else f'{uf1:.3f}'}"
        )
    return 0


def run_simulate(args) -> int:
    from analysis.federated.simulation import simulate

    if args.sites < 1:
        raise MexlabError("--sites must be >= 1")
    if args.speeds:
        try:
            speeds = [float(s) for s in args.speeds.split(",")]
        except ValueError:
            raise MexlabError(f"--speeds {args.speeds!r}: comma-separated numbers") from None
        # nan compares false with everything: it passed `<= 0` and hung the virtual clock
        if len(speeds) != args.sites or not all(math.isfinite(v) and 0 < v <= MAX_SPEED for v in speeds):
            raise MexlabError(
                f"--speeds: {args.sites} finite factors in (0, {MAX_SPEED:g}] needed, got {args.speeds!r}"
            )
    else:
        speeds = [1.0] * args.sites
    rc = _run_config(args, 30 if args.strategy != "fedavg" else 10)
    rc["min-sites"] = args.sites
    if args.out:
        from acquisition.atomic import check_out_folder

        rc["out"] = str(check_out_folder(args.out))
    res = simulate(args.data, args.sites, speeds, rc, truth=args.truth, quiet=args.json)
    if args.json:
        res.pop("events", None)
        res.pop("bytes_received", None)
        print(json.dumps(res, indent=1))
        return 0
    print(
        f"{res['strategy']}: {res['sites']} sites, {res['updates']} updates, virtual time "
        f"{res['virtual_time']:.1f} s; final UF1 {res['final']['uf1']:.3f} UAR {res['final']['uar']:.3f}; "
        f"pooled UF1 {res['pooled']['uf1']:.3f}"
    )
    for s in res["per_site"]:
        print(f"  {s['site']}: speed {s['speed']}, {s['updates']} updates, own held-out UF1 {s['uf1']:.3f}")
    for e in res["events"]:
        print(f"  event: {e['kind']} {e.get('site', '')} {e.get('reason', '')}", file=sys.stderr)
    return 0
