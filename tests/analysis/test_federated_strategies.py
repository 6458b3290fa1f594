"""The async strategies' arithmetic against merges computed by hand."""

import math

import numpy as np
import pytest

from analysis.federated.strategies import FedAsync, FedBuff, Update, check_update, staleness_weight


def W(*vals):
    return [np.array(vals, dtype=np.float32)]


def test_staleness_weight_values():
    assert staleness_weight(0) == 1.0
    assert staleness_weight(3) == pytest.approx(0.5)  # 1/sqrt(4)
    assert staleness_weight(8) == pytest.approx(1 / 3)  # 1/sqrt(9)
    assert staleness_weight(1, a=1.0) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        staleness_weight(-1)


def test_fedbuff_buffers_k_then_steps_with_sample_and_staleness_weights():
    s = FedBuff(W(0.0, 0.0), k=2, server_lr=1.0)
    ev = s.receive(Update("a", 0, W(1.0, 2.0), n=10))
    assert ev.kind == "buffered" and s.version == 0
    np.testing.assert_array_equal(s.x[0], [0.0, 0.0])  # nothing merged before K updates
    ev = s.receive(Update("b", 0, W(4.0, -2.0), n=30))
    assert ev.kind == "merged" and s.version == 1
    # (10*1*[1,2] + 30*1*[4,-2]) / 40 = [3.25, -1.0]
    np.testing.assert_allclose(s.x[0], [3.25, -1.0], rtol=1e-6)
    assert s.merged_sites[1] == ["a", "b"]

    # version 1 now; one stale update (base 0, tau 1, s = 1/sqrt 2) and one fresh one
    s.receive(Update("c", 0, W(2.0, 0.0), n=20))
    s.receive(Update("a", 1, W(0.0, 4.0), n=20))
    w = 1 / math.sqrt(2)
    expect = np.array([3.25, -1.0]) + (20 * w * np.array([2.0, 0.0]) + 20 * 1 * np.array([0.0, 4.0])) / 40
    np.testing.assert_allclose(s.x[0], expect, rtol=1e-6)
    assert s.version == 2


def test_fedbuff_server_lr_and_drops_too_stale():
    s = FedBuff(W(1.0), k=1, tau_max=1, server_lr=0.5)
    s.receive(Update("a", 0, W(2.0), n=5))  # x = 1 + 0.5*2 = 2, v1
    s.receive(Update("a", 1, W(2.0), n=5))  # x = 3, v2
    np.testing.assert_allclose(s.x[0], [3.0])
    ev = s.receive(Update("slow", 0, W(100.0), n=5))  # tau = 2 > tau_max = 1
    assert ev.kind == "dropped-stale" and "staleness 2" in ev.reason
    np.testing.assert_allclose(s.x[0], [3.0])
    assert s.version == 2
    ev = s.receive(Update("ok", 1, W(2.0), n=5))  # tau 1: 0.5 * (1/sqrt2) * 2
    np.testing.assert_allclose(s.x[0], [3.0 + 0.5 * 2 / math.sqrt(2)], rtol=1e-6)


def test_fedbuff_server_momentum_accumulates_steps():
    s = FedBuff(W(0.0), k=1, server_lr=0.5, momentum=0.5)
    s.receive(Update("a", 0, W(2.0), n=1))  # m = 2; x = 0 + 0.5*2 = 1
    np.testing.assert_allclose(s.x[0], [1.0])
    s.receive(Update("a", 1, W(4.0), n=1))  # m = 0.5*2 + 4 = 5; x = 1 + 2.5 = 3.5
    np.testing.assert_allclose(s.x[0], [3.5])
    s.receive(Update("b", 1, W(-2.0), n=1))  # tau 1: g = -2/sqrt2; m = 2.5 + g; x += 0.5 m
    m = 2.5 - 2 / math.sqrt(2)
    np.testing.assert_allclose(s.x[0], [3.5 + 0.5 * m], rtol=1e-6)
    # a rejected update leaves the momentum alone
    ev = s.receive(Update("bad", 3, W(float("nan")), n=1))
    assert ev.kind == "rejected"
    np.testing.assert_allclose(s.m[0], [m], rtol=1e-6)
    for bad in ({"server_lr": 0.0}, {"momentum": 1.0}, {"momentum": -0.1}):
        with pytest.raises(ValueError):
            FedBuff(W(0.0), **bad)


def test_fedbuff_running_statistics_are_averaged_never_extrapolated():
    # array 0 a weight, array 1 a BatchNorm running variance (1 at start); every site measures 0.1
    def run(stats):
        s = FedBuff(
            [np.array([0.0], np.float32), np.array([1.0], np.float32)], k=1, server_lr=0.5, momentum=0.5, stats=stats
        )
        for v in range(3):
            s.receive(Update("a", v, [np.array([2.0], np.float32), 0.1 - s.x[1]], n=1))
        return s

    s = run([1])
    np.testing.assert_allclose(s.x[1], [0.1], rtol=1e-6)  # the sites' value, as is
    np.testing.assert_allclose(s.x[0], [0.5 * (2 + 3 + 3.5)], rtol=1e-6)  # weights: momentum + eta as before
    assert run([]).x[1][0] == pytest.approx(-0.125)  # stepped like a weight: 0.55, 0.1, then below zero
    # a stale update: its site's value is x_base + delta (0.05), not x_now + s(tau) delta (< 0)
    s = FedBuff([np.array([1.0], np.float32)], k=2, server_lr=0.5, stats=[0])
    s.receive(Update("a", 0, [np.array([-0.9], np.float32)], n=1))
    s.receive(Update("b", 0, [np.array([-0.9], np.float32)], n=3))  # v1: 0.1
    s.receive(Update("c", 0, [np.array([-0.95], np.float32)], n=2))  # base 0, tau 1: its value 0.05
    s.receive(Update("a", 1, [np.array([0.1], np.float32)], n=2))  # fresh: 0.2
    w = 2 / math.sqrt(2)
    np.testing.assert_allclose(s.x[0], [(w * 0.05 + 2 * 0.2) / (w + 2)], rtol=1e-6)
    with pytest.raises(ValueError):
        FedBuff(W(0.0), stats=[1])


def test_fedbuff_default_server_lr_is_one_half(tmp_path):
    import argparse

    from analysis.federated import FEDBUFF_SERVER_LR
    from analysis.federated.runner import loop_config
    from app.commands import fl

    assert FEDBUFF_SERVER_LR == 0.5
    assert FedBuff(W(0.0)).server_lr == 0.5 and loop_config({}).server_lr == 0.5
    ap = argparse.ArgumentParser()
    fl.add_parser(ap.add_subparsers())
    args = ap.parse_args(["fl", "coordinator", "--address", "127.0.0.1:1"])
    assert fl._run_config(args, 30)["server-lr"] == 0.5
    s = FedBuff(W(1.0), k=1)
    s.receive(Update("a", 0, W(2.0), n=3))
    np.testing.assert_allclose(s.x[0], [2.0])  # 1 + 0.5 * 2


def test_fedasync_mixes_with_staleness_damped_alpha():
    s = FedAsync(W(0.0, 0.0), alpha=0.5)
    s.receive(Update("a", 0, W(2.0, 4.0), n=1))  # alpha_t = .5: x = .5*0 + .5*(0+[2,4]) = [1,2]
    np.testing.assert_allclose(s.x[0], [1.0, 2.0])
    # stale by one: x_new = x_0 + delta = [4, 0]; alpha_t = .5/sqrt2
    s.receive(Update("b", 0, W(4.0, 0.0), n=1))
    at = 0.5 / math.sqrt(2)
    np.testing.assert_allclose(s.x[0], (1 - at) * np.array([1.0, 2.0]) + at * np.array([4.0, 0.0]), rtol=1e-6)
    assert s.version == 2 and s.merged_sites == {1: ["a"], 2: ["b"]}


def test_fedasync_forgets_versions_beyond_tau_max():
    s = FedAsync(W(0.0), alpha=1.0, tau_max=1)
    for v in range(3):
        s.receive(Update("a", v, W(1.0), n=1))
    assert sorted(s.history) == [2, 3]
    ev = s.receive(Update("b", 1, W(1.0), n=1))
    assert ev.kind == "rejected" and "no longer held" in ev.reason


@pytest.mark.parametrize(
    "upd, reason",
    [
        (Update("x", 0, W(np.nan, 1.0), n=3), "NaN or infinite"),
        (Update("x", 0, W(np.inf, 1.0), n=3), "NaN or infinite"),
        (Update("x", 0, [np.zeros(3, np.float32)], n=3), "wrong shape"),
        (Update("x", 0, W(1.0, 1.0) * 2, n=3), "wrong shape"),
        (Update("x", 5, W(1.0, 1.0), n=3), "unknown version 5"),
        (Update("x", -1, W(1.0, 1.0), n=3), "unknown version"),
        (Update("x", "0", W(1.0, 1.0), n=3), "not a version number"),
        (Update("x", 0, W(1.0, 1.0), n=0), "sample count"),
        (Update("x", 0, [np.array([1, 2])], n=3), "not floating point"),
    ],
)
def test_bad_updates_are_rejected_and_never_merged(upd, reason):
    for s in (FedBuff(W(0.5, 0.5), k=1), FedAsync(W(0.5, 0.5))):
        ev = s.receive(upd)
        assert ev.kind == "rejected" and reason in ev.reason, ev
        np.testing.assert_array_equal(s.x[0], [0.5, 0.5])
        assert s.version == 0
        assert getattr(s, "buffer", []) == []


def test_check_update_accepts_a_good_one():
    assert check_update(Update("x", 0, W(1.0, 2.0), n=1), [(2,)], 0) is None


def test_clip_and_noise_uses_flowers_clipping():
    from analysis.federated.privacy import clip_and_noise

    out, info = clip_and_noise([np.array([3.0, 4.0], np.float32)], clip_norm=1.0)
    np.testing.assert_allclose(out[0], [0.6, 0.8], rtol=1e-6)
    assert info["update-norm"] == pytest.approx(5.0)
    out, _ = clip_and_noise([np.array([0.3, 0.4], np.float32)], clip_norm=1.0)  # inside: untouched
    np.testing.assert_allclose(out[0], [0.3, 0.4], rtol=1e-6)
    out, _ = clip_and_noise([np.zeros(2, np.float32)], clip_norm=1.0)  # zero norm: no crash
    z = [np.zeros(20000, np.float32)]
    out, info = clip_and_noise(z, clip_norm=2.0, noise_multiplier=0.5, rng=np.random.default_rng(0))
    assert info["noise-std"] == 1.0 and np.std(out[0]) == pytest.approx(1.0, rel=0.05)


def test_the_coordinators_batch_size_reaches_the_sites_training_config():
    """`--batch-size` (default 32) travels in the run config to every site's training message."""
    import argparse

    from analysis.federated.runner import loop_config
    from app.commands import fl

    ap = argparse.ArgumentParser()
    fl.add_parser(ap.add_subparsers())
    for argv, want in ((["--batch-size", "8"], 8), ([], 32)):
        args = ap.parse_args(["fl", "coordinator", "--address", "127.0.0.1:1", *argv])
        rc = fl._run_config(args, 30)
        assert rc["batch-size"] == want
        assert loop_config(rc).site_config("sig")["batch-size"] == want
    sim = ap.parse_args(["fl", "simulate", "--sites", "2", "--data", "features:x.npz", "--batch-size", "16"])
    assert loop_config(fl._run_config(sim, 30)).batch_size == 16
