"""Statistics: the tests against scipy and pingouin run directly, and a study of recorded sessions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import pyxdf
from scipy import stats

from analysis.stats import aggregate, compare, correlate, run_tests
from analysis.study import analyse_study
from app.cli import main
from tests.helpers_physio import LSL_HR, SIM_DURATION_S, aborted_copy, ground_truth

pytestmark = [pytest.mark.usefixtures("record_early")]  # starts the shared recordings early (conftest.py)


def _table(a, b, paired=True):
    pa = [f"P{i}" for i in range(len(a))]
    pb = pa if paired else [f"Q{i}" for i in range(len(b))]
    return pd.DataFrame(
        {"participant": pa + pb, "group": ["A"] * len(a) + ["B"] * len(b), "me_rate_per_min": list(a) + list(b)}
    )


A = np.array([3.1, 4.0, 2.2, 5.5, 4.8, 3.9, 2.7, 4.4])
B = np.array([2.0, 3.1, 2.5, 3.9, 3.0, 3.3, 1.9, 2.6])


def test_paired_t_against_scipy_and_pingouin():
    r = compare(_table(A, B), "me_rate_per_min", "A", "B")
    ref = stats.ttest_rel(A, B)
    assert r.test == "paired t" and r.n_a == r.n_b == 8
    assert r.t == pytest.approx(ref.statistic) and r.p == pytest.approx(ref.pvalue)
    assert r.df == 7 and r.diff == pytest.approx(np.mean(A - B))
    ci = ref.confidence_interval(0.95)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high))
    # the CI of the mean difference by hand: mean ± t(0.975, n-1) · SD / √n
    half = stats.t.ppf(0.975, 7) * np.std(A - B, ddof=1) / np.sqrt(8)
    assert r.ci_high - r.ci_low == pytest.approx(2 * half)
    assert r.d == pytest.approx(pg.compute_effsize(A, B, paired=True, eftype="cohen"))
    lo, hi = pg.compute_esci(stat=r.d, nx=8, ny=8, paired=True, eftype="cohen", decimals=10)
    assert (r.d_ci_low, r.d_ci_high) == pytest.approx((lo, hi))


def test_welch_t_against_scipy_and_pingouin():
    b = B[:6] + 0.4
    r = compare(_table(A, b, paired=False), "me_rate_per_min", "A", "B")
    ref = stats.ttest_ind(A, b, equal_var=False)
    assert r.test == "Welch t" and (r.n_a, r.n_b) == (8, 6)
    assert r.t == pytest.approx(ref.statistic) and r.p == pytest.approx(ref.pvalue)
    assert r.df == pytest.approx(ref.df)
    ci = ref.confidence_interval(0.95)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high))
    ptt = pg.ttest(A, b, correction=True)
    assert r.p == pytest.approx(float(ptt["p_val"].iloc[0]))
    assert r.d == pytest.approx(float(ptt["cohen_d"].iloc[0]))
    lo, hi = pg.compute_esci(stat=r.d, nx=8, ny=6, paired=False, eftype="cohen", decimals=10)
    assert (r.d_ci_low, r.d_ci_high) == pytest.approx((lo, hi))


def test_design_choice():
    t = _table(A, B)
    t.loc[(t["group"] == "B") & (t["participant"] == "P0"), "participant"] = "X9"  # one not paired
    r = compare(t, "me_rate_per_min", "A", "B")
    assert r.test == "Welch t" and "not all are" in r.note
    assert compare(t, "me_rate_per_min", "A", "B", design="paired").n_a == 7
    assert compare(_table(A[:1], B[:1]), "me_rate_per_min", "A", "B") is None  # too few
    t = _table(A, B)
    t.loc[0, "me_rate_per_min"] = np.nan  # P0 drops out
    assert compare(t, "me_rate_per_min", "A", "B").test == "Welch t"
    assert compare(t, "me_rate_per_min", "A", "B", design="paired").n_a == 7


def test_pearson_against_scipy_and_pingouin():
    x = np.array([1.0, 2.5, 3.1, 4.8, 5.0, 6.2, 7.7, 8.1, 9.9])
    y = 0.6 * x + np.array([0.3, -0.8, 0.5, 0.1, -1.2, 0.9, -0.4, 0.6, -0.2])
    t = pd.DataFrame({"me_rate_per_min": x, "scr_amp_stim": y})
    c = correlate(t, "me_rate_per_min", "scr_amp_stim")
    ref = stats.pearsonr(x, y)
    assert c.n == 9 and c.r == pytest.approx(ref.statistic) and c.p == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high))
    pc = pg.corr(x, y)
    lo, hi = pc["CI95"].iloc[0]
    assert (c.ci_low, c.ci_high) == pytest.approx((lo, hi), abs=0.006)  # pingouin rounds to 2
    t.loc[3, "scr_amp_stim"] = np.nan
    assert correlate(t, "me_rate_per_min", "scr_amp_stim").n == 8
    assert correlate(t.iloc[:2], "me_rate_per_min", "scr_amp_stim") is None


def test_aggregate_pools_sessions():
    def row(session, minutes, durs, hr, scr, stim_hr):
        return {
            "participant": "P1",
            "group": "G",
            "session": session,
            "duration_min": minutes,
            "has_me": True,
            "hr_mean_bpm": hr,
            "scr_count": scr,
            "me_durations": durs,
            "stim_hr": stim_hr,
            "stim_scr": [0.2] * len(stim_hr),
            "me_hr": [],
            "me_scr": [],
            "me_emg": [],
        }

    t = aggregate([row("a", 2.0, [0.3, 0.4], 70.0, 4, [1.0, 3.0]), row("b", 3.0, [0.5], 80.0, 2, [2.0])])
    r = t.iloc[0]
    assert r["sessions"] == 2 and r["duration_min"] == 5.0
    assert r["me_count"] == 3 and r["me_rate_per_min"] == pytest.approx(0.6)
    assert r["me_mean_duration_s"] == pytest.approx(0.4)
    assert r["mean_hr_bpm"] == pytest.approx((70 * 2 + 80 * 3) / 5)
    assert r["scr_per_min"] == pytest.approx(6 / 5)
    assert r["hr_response_stim_bpm"] == pytest.approx(2.0) and np.isnan(r["hr_response_me_bpm"])
    no_me = dict(row("c", 1.0, [], 70.0, None, []), has_me=False)
    r = aggregate([no_me]).iloc[0]
    assert np.isnan(r["me_count"]) and np.isnan(r["scr_per_min"])  # unknown, not zero


def test_self_reports_by_condition_are_tested_like_any_measure(tmp_path):
    """responses.csv as a protocol run writes it -> per-condition means -> a paired t test."""
    from analysis.study import read_self_reports
    from protocols.runlog import RunLog

    rng = np.random.default_rng(3)
    rows, want = [], {}
    for i in range(6):
        folder = tmp_path / f"s{i}"
        folder.mkdir()
        log = RunLog(folder)
        for cond, base in (("truthful", 3.0), ("deceptive", 6.0)):
            vals = [int(np.clip(round(base + rng.normal(0, 1.5)), 1, 9)) for _ in range(3)]
            want[(f"P{i}", cond)] = np.mean(vals)
            for v in vals:
                log.response(
                    {
                        "participant": f"P{i}",
                        "kind": "self_report",
                        "condition": cond,
                        "intensity": v,
                        "valence": 10 - v,
                        "arousal": "",
                    }
                )
        log.response({"participant": f"P{i}", "kind": "answer", "condition": "truthful", "intensity": 9})
        log.close()
        reports = read_self_reports(folder, {})
        assert len(reports) == 6 and all(r["arousal"] is None for r in reports)  # the answer row is not one
        for cond in ("truthful", "deceptive"):
            mine = [r for r in reports if r["condition"] == cond]
            rows.append(
                {
                    "participant": f"P{i}",
                    "group": cond,
                    "session": f"s{i}",
                    "duration_min": 1.0,
                    "has_me": False,
                    "hr_mean_bpm": float("nan"),
                    "scr_count": None,
                    "self_intensity": [r["intensity"] for r in mine],
                    "self_valence": [r["valence"] for r in mine],
                    "self_arousal": [],
                }
            )
    t = aggregate(rows)
    for (pid, cond), v in want.items():
        assert t[(t.participant == pid) & (t.group == cond)]["self_intensity"].iloc[0] == pytest.approx(v)
    assert t["self_arousal"].isna().all()
    res = compare(t, "self_intensity", "deceptive", "truthful")
    a = [want[(f"P{i}", "deceptive")] for i in range(6)]
    b = [want[(f"P{i}", "truthful")] for i in range(6)]
    assert res.test == "paired t" and res.p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert compare(t, "self_arousal", "deceptive", "truthful") is None


# --------------------------------------------------------------------------- recorded study
def _expected_me_counts(folder, seed):
    """ME onsets per condition, from the raw XDF markers and the rig's schedule (not mexlab's code)."""
    from acquisition.sim.schedule import make_schedule

    streams, _ = pyxdf.load_xdf(str(folder / "recording.xdf"), dejitter_timestamps=False)
    meta = json.loads((folder / "session.json").read_text())
    marks = []
    for s in streams:
        if s["info"]["type"][0] == "Markers" and s["info"]["name"][0] != "mexlab-markers":
            marks += [(t, json.loads(v[0])) for t, v in zip(s["time_stamps"], s["time_series"])]
    marks.sort(key=lambda m: m[0])
    end = meta["stopped_lsl"]
    t0 = ground_truth(folder)["t0_lsl"]
    onsets = [t0 + e.onset / 30.0 for e in make_schedule(SIM_DURATION_S + 5, 30.0, seed).of_kind("micro", "macro")]
    counts = {"truthful": 0, "deceptive": 0}
    for i, (a, m) in enumerate(marks):  # a trial: from its trial_start to its trial_end
        if m["event"] == "trial_start":
            b = next((t for t, n in marks[i + 1 :] if n["event"] == "trial_end" and n["trial"] == m["trial"]), end)
            counts[m["condition"]] += sum(a <= t < min(b, end) for t in onsets)
    return counts


def test_study_by_condition(study, analysed):
    res = analyse_study([], sessions=analysed, by="condition")
    t = res.table
    assert sorted(t["participant"].unique()) == ["P3", "SIM1", "SIM2"]
    assert sorted(t["group"].unique()) == ["deceptive", "truthful"]
    for key, seed in (("sim1", 0), ("sim2", 1)):
        expected = _expected_me_counts(study[key], seed)
        for cond, n in expected.items():
            row = t[(t["participant"] == key.upper()) & (t["group"] == cond)].iloc[0]
            assert row["me_count"] == n
            assert row["me_rate_per_min"] == pytest.approx(n / row["duration_min"])
    p3 = t[t["participant"] == "P3"].set_index("group")
    assert abs(p3.loc["truthful", "mean_hr_bpm"] - LSL_HR[0]) < 2
    assert abs(p3.loc["deceptive", "mean_hr_bpm"] - LSL_HR[1]) < 2
    assert np.isnan(p3.loc["truthful", "me_count"])  # no ME source: unknown
    # heart rate: the three participants are in both conditions -> paired t test, as scipy says
    hr = next(x for x in res.tests if x.measure == "mean_hr_bpm")
    assert hr.test == "paired t" and hr.n_a == 3
    a = t[t["group"] == hr.group_a].set_index("participant")["mean_hr_bpm"]
    b = t[t["group"] == hr.group_b].set_index("participant")["mean_hr_bpm"][a.index]
    assert hr.p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    tests, corrs = run_tests(t)
    assert len(tests) == len(res.tests) and len(corrs) == len(res.correlations)
    # Holm over the family of t tests, by hand: sort p, multiply the k-th smallest by (m - k), keep monotone
    ps = np.array([x.p for x in tests if np.isfinite(x.p)])
    m, order = ps.size, np.argsort(ps)
    want = np.empty(m)
    want[order] = np.minimum(1, np.maximum.accumulate(ps[order] * (m - np.arange(m))))
    got = np.array([x.p_holm for x in tests if np.isfinite(x.p)])
    assert m >= 2 and got == pytest.approx(want)
    assert all(np.isnan(x.p_holm) for x in tests if not np.isfinite(x.p))
    # stimuli: only the "stimulus" and "question" steps of the trials, not fixations or the rest step
    sim = res.sessions[0]
    stim = [r for r in sim.responses if r.source == "marker"]
    assert len(stim) == 2 * 4 and {r.fields.get("stimulus") or r.fields.get("question") for r in stim} >= {
        "clip1",
        "q4",
    }


def test_study_by_protocol(study, analysed):
    from tests.helpers_physio import LSL_PROTOCOL, SIM_PROTOCOL

    res = analyse_study([], sessions=analysed, by="protocol")
    t = res.table.set_index("participant")
    assert t.loc["SIM1", "group"] == t.loc["SIM2", "group"] == SIM_PROTOCOL  # from the markers
    assert t.loc["P3", "group"] == LSL_PROTOCOL
    full = res.sessions[0].session.duration_s / 60
    assert t.loc["SIM1", "duration_min"] == pytest.approx(full)
    assert t.loc["SIM1", "me_count"] == len(ground_truth_me(study["sim1"]))
    assert res.tests == []  # one participant in the interview: nothing to test


def test_stats_cli(study, capsys):
    rc = main(["stats", str(study["sim1"]), str(study["sim2"]), str(study["lsl"]), "--by", "condition", "--json"])
    cap = capsys.readouterr()
    assert rc == 0
    out = json.loads(cap.out)
    assert out["by"] == "condition" and len(out["table"]) == 6
    assert {x["test"] for x in out["tests"]} == {"paired t"}
    assert all(x["p_holm"] is None or x["p_holm"] >= x["p"] for x in out["tests"])
    assert "[3/3] analysing" in cap.err and "no EMG" in cap.err
    # a catalog query: every recording of the helper was registered in its catalog
    rc = main(["stats", "--db", study["db"], "--participant", "SIM2", "--use-ground-truth"])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0 and lines[0] == "1 session(s), 1 participant(s), grouped by protocol"
    assert lines[1].startswith("GROUND TRUTH USED AS RESULTS (--use-ground-truth)") and "sim2" in lines[1]
    assert lines[3].split()[:2] == ["SIM2", "active-deception"]
    assert lines[3].split()[3] == str(len(ground_truth_me(study["sim2"])))  # the ME count
    rc = main(["stats", "--db", study["db"], "--participant", "NOBODY"])
    assert rc == 2 and "found no sessions of participant 'NOBODY'" in capsys.readouterr().err
    assert main(["stats"]) == 2
    assert "no sessions given" in capsys.readouterr().err


def ground_truth_me(folder):
    import csv

    with open(folder / "ground_truth.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["type"] in ("micro", "macro")]
    meta = json.loads((folder / "session.json").read_text())
    gt = ground_truth(folder)
    return [r for r in rows if gt["t0_lsl"] + int(r["onset"]) / 30 < meta["stopped_lsl"]]


def test_no_variance_is_not_significant():
    t = _table([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])  # every difference is -1
    r = compare(t, "me_rate_per_min", "A", "B")
    assert r.test == "paired t" and r.diff == -1.0
    assert np.isnan(r.t) and np.isnan(r.p) and "no variance" in r.note


def test_truth_is_never_used_silently(study, capsys):
    """A session not spotted has no ME events: the simulated rig's ground_truth.csv is not taken as
    results (the defect: the report used it silently), unless asked for, and then it is said."""
    rc = main(["stats", str(study["sim2"]), "--json"])
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert rc == 0 and out["ground_truth_used"] == []
    assert out["table"][0]["me_count"] is None  # unknown, not the truth
    assert "not spotted (no analysis/spotting.json)" in cap.err and "ground_truth.csv is not used" in cap.err
    rc = main(["stats", str(study["sim2"]), "--json", "--use-ground-truth"])
    out = json.loads(capsys.readouterr().out)
    assert out["ground_truth_used"] == ["sim2"]
    assert out["table"][0]["me_count"] == len(ground_truth_me(study["sim2"]))


def test_aborted_sessions_left_out_unless_asked(study, tmp_path, capsys):
    """An aborted protocol run is not a full session: stats leave it out by default and say so."""
    copy = aborted_copy(study["sim1"], tmp_path)
    rc = main(["stats", str(study["sim1"]), str(copy), "--json"])
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert rc == 0 and out["sessions"] == ["sim1"]
    assert [x["path"] for x in out["excluded"]] == [str(copy)]
    assert "aborted at step 3 of 9" in out["excluded"][0]["why"] and "--include-aborted" in cap.err
    assert {r["participant"] for r in out["table"]} == {"SIM1"}
    rc = main(["stats", str(study["sim1"]), str(copy), "--json", "--include-aborted"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["sessions"] == ["sim1", "aborted"] and out["excluded"] == []
    assert {r["participant"] for r in out["table"]} == {"SIM1", "ABORT1"}
    assert out["health"]["aborted"]["verdict"] == "warning"
    assert "aborted at step 3 of 9" in out["health"]["aborted"]["reasons"][0]
    # only aborted sessions: nothing to analyse, said plainly
    assert main(["stats", str(copy)]) == 2
    assert "all 1 were aborted protocol runs" in capsys.readouterr().err
