"""Statistics of a study: per participant and paradigm (or condition) tables, tests, correlations.

Input: rows, one per (session, group), as built by :mod:`analysis.study` — a group is the session's
paradigm (``session.json`` "protocol") or a condition (marker field "condition"). :func:`aggregate`
pools the rows of one participant and group:

==========================  =====================================================================
``duration_min``            minutes of recording in the group (condition: the condition's spans)
``me_count``                ME events (micro + macro) starting in it; NaN when the sessions have
                            no ME events (no spotting result and no ground truth)
``me_rate_per_min``         ``me_count / duration_min``
``me_mean_duration_s``      mean offset - onset of those MEs
``mean_hr_bpm``             mean heart rate over the group's time (duration-weighted)
``scr_per_min``             SCRs (onsets) per minute
``hr_response_stim_bpm``    mean HR change after protocol stimuli (see analysis.physio.events)
``scr_amp_stim``            mean SCR amplitude after stimuli (non-responses count as 0), µS
``hr_response_me_bpm``      mean HR change after ME onsets
``scr_amp_me``              mean SCR amplitude after ME onsets, µS
``emg_me``                  mean peak EMG (largest channel) after ME onsets, × baseline
``self_intensity``          mean self-reported intensity (1–9) of the protocol's self-reports
``self_valence``            mean self-reported valence (SAM, 1–9)
``self_arousal``            mean self-reported arousal (SAM, 1–9)
==========================  =====================================================================

Tests (:func:`compare`): a two-sided t test between two groups of one measure — **paired**
(``scipy.stats.ttest_rel``) when the same participants are in both groups, else **Welch's**
independent t test (``scipy.stats.ttest_ind(equal_var=False)``); the 95 % CI is that of the mean
difference (scipy's ``confidence_interval``). Cohen's d: independent, difference / pooled SD;
paired, difference / √((SD₁² + SD₂²)/2) (d_av, as pingouin). The 95 % CI of d uses the normal
approximation of its standard error (Hedges & Olkin; as ``pingouin.compute_esci``). Without any
variance (every difference the same) t and p are undefined: NaN, with a note.
Correlations (:func:`correlate`): Pearson r (``scipy.stats.pearsonr``) across participant × group
rows (at least 4), with its Fisher-z 95 % CI; r is the effect size.

Multiple comparisons (:func:`run_tests`): a study runs many tests at once (every measure × every
pair of groups), so each result also carries ``p_holm``, its p value adjusted by Holm's step-down
method (``pingouin.multicomp(method="holm")``) within its family: the t tests are one family, the
correlations another. Reports mark a result significant on ``p_holm`` < 0.05.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike

MEASURES: dict[str, tuple[str, str]] = {
    "me_count": ("ME count", ""),
    "me_rate_per_min": ("ME rate", "per min"),
    "me_mean_duration_s": ("ME mean duration", "s"),
    "mean_hr_bpm": ("mean heart rate", "bpm"),
    "scr_per_min": ("SCR rate", "per min"),
    "hr_response_stim_bpm": ("HR change after stimuli", "bpm"),
    "scr_amp_stim": ("SCR amplitude after stimuli", "µS"),
    "hr_response_me_bpm": ("HR change after MEs", "bpm"),
    "scr_amp_me": ("SCR amplitude after MEs", "µS"),
    "emg_me": ("EMG peak after MEs", "× baseline"),
    "self_intensity": ("self-reported intensity", "1–9"),
    "self_valence": ("self-reported valence", "SAM 1–9"),
    "self_arousal": ("self-reported arousal", "SAM 1–9"),
}
ME_MEASURES = ("me_count", "me_rate_per_min", "me_mean_duration_s")
# the responses an ME measure is correlated with: physiology and self-report
PHYSIO_MEASURES = tuple(m for m in MEASURES if m not in ME_MEASURES)
LIST_FIELDS = (
    "me_durations",
    "stim_hr",
    "stim_scr",
    "me_hr",
    "me_scr",
    "me_emg",
    "self_intensity",
    "self_valence",
    "self_arousal",
)


def _mean(values) -> float:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def aggregate(rows: list[dict]) -> pd.DataFrame:
    """A pandas DataFrame, one row per (participant, group), with the measures of the module doc.

    Each input row: ``participant``, ``group``, ``session``, ``duration_min``, ``has_me`` (bool),
    ``hr_mean_bpm`` (NaN if unknown), ``scr_count`` (None if no EDA) and the lists
    :data:`LIST_FIELDS` (ME durations; HR change / SCR amplitude / EMG after stimuli and MEs;
    self-reported intensity, valence, arousal).
    """
    import pandas as pd

    keyed: dict[tuple, list[dict]] = {}
    for r in rows:
        keyed.setdefault((r["participant"], r["group"]), []).append(r)
    out = []
    for (participant, group), rs in keyed.items():
        minutes = sum(r["duration_min"] for r in rs)
        lists = {f: [x for r in rs for x in r.get(f, [])] for f in LIST_FIELDS}
        has_me = all(r["has_me"] for r in rs)
        n_me = len(lists["me_durations"]) if has_me else float("nan")
        hr = [(r["hr_mean_bpm"], r["duration_min"]) for r in rs if np.isfinite(r["hr_mean_bpm"])]
        scr = [r["scr_count"] for r in rs if r.get("scr_count") is not None]
        out.append(
            {
                "participant": participant,
                "group": group,
                "sessions": len(rs),
                "duration_min": minutes,
                "me_count": n_me,
                "me_rate_per_min": n_me / minutes if minutes > 0 else float("nan"),
                "me_mean_duration_s": _mean(lists["me_durations"]) if has_me else float("nan"),
                "mean_hr_bpm": (
                    sum(h * w for h, w in hr) / sum(w for _, w in hr)
                    if hr and sum(w for _, w in hr) > 0
                    else float("nan")
                ),
                "scr_per_min": sum(scr) / minutes if scr and minutes > 0 else float("nan"),
                "hr_response_stim_bpm": _mean(lists["stim_hr"]),
                "scr_amp_stim": _mean(lists["stim_scr"]),
                "hr_response_me_bpm": _mean(lists["me_hr"]),
                "scr_amp_me": _mean(lists["me_scr"]),
                "emg_me": _mean(lists["me_emg"]),
                "self_intensity": _mean(lists["self_intensity"]),
                "self_valence": _mean(lists["self_valence"]),
                "self_arousal": _mean(lists["self_arousal"]),
                "n_stimuli": len(lists["stim_hr"]),
                "n_me_events": len(lists["me_hr"]),
            }
        )
    cols = ["participant", "group", "sessions", "duration_min", *MEASURES, "n_stimuli", "n_me_events"]
    return pd.DataFrame(out, columns=cols).sort_values(["group", "participant"], kind="stable", ignore_index=True)


# --------------------------------------------------------------------------------------------
@dataclass
class TestResult:
    measure: str
    group_a: str
    group_b: str
    test: str  # "paired t" | "Welch t"
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    diff: float  # mean_a - mean_b (paired: mean of the differences)
    ci_low: float  # 95 % CI of diff
    ci_high: float
    t: float
    df: float
    p: float
    d: float  # Cohen's d
    d_ci_low: float
    d_ci_high: float
    note: str = ""
    p_holm: float = math.nan  # p adjusted over the study's t tests (Holm), set by run_tests

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def cohens_d(a: ArrayLike, b: ArrayLike, paired: bool) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if paired:
        sd = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    else:
        na, nb = a.size, b.size
        sd = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    return float((a.mean() - b.mean()) / sd) if sd > 0 else float("nan")


def d_confidence_interval(d: float, na: int, nb: int, paired: bool, level: float = 0.95) -> tuple[float, float]:
    """Approximate CI of Cohen's d: d ± t(1-α/2, df) · SE(d) (module doc)."""
    from scipy import stats

    if not math.isfinite(d):
        return float("nan"), float("nan")
    if paired:
        se, df = math.sqrt(1 / na + d * d / (2 * na)), na - 1
    else:
        se, df = math.sqrt((na + nb) / (na * nb) + d * d / (2 * (na + nb))), na + nb - 2
    crit = abs(stats.t.ppf((1 - level) / 2, df))
    return d - crit * se, d + crit * se


def _constant(v: np.ndarray) -> bool:
    """All values equal up to 1 ppm (rates of equal counts over spans a few ms apart are equal)."""
    return bool(np.ptp(v) <= 1e-6 * max(1.0, float(np.max(np.abs(v)))))


def compare(table: pd.DataFrame, measure: str, group_a: str, group_b: str, design: str = "auto") -> TestResult | None:
    """t test of ``measure`` between two groups (module doc); None when there are too few values.

    ``design``: "paired", "independent" or "auto" (paired when every participant with a value in
    either group has one in both, and at least two do).
    """
    from scipy import stats

    t = table[np.isfinite(table[measure].astype(float))]
    va = t[t["group"] == group_a].set_index("participant")[measure].astype(float)
    vb = t[t["group"] == group_b].set_index("participant")[measure].astype(float)
    both = va.index.intersection(vb.index)
    note = ""
    if design == "auto":
        paired = len(both) >= 2 and len(both) == len(va) == len(vb)
        if not paired and len(both):
            note = f"{len(both)} participant(s) are in both groups but not all are; tested as independent groups"
    else:
        paired = design == "paired"
    if paired:
        a, b = va[both].to_numpy(), vb[both].to_numpy()
        if a.size < 2:
            return None
        flat = _constant(a - b)
    else:
        a, b = va.to_numpy(), vb.to_numpy()
        if a.size < 2 or b.size < 2:
            return None
        flat = _constant(a) and _constant(b)
    if flat:
        note = (note + "; " if note else "") + "no variance: every value (or difference) is the same"
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy on constant input: reported as nan
        if paired:
            res = stats.ttest_rel(a, b)
            diff, kind = float(np.mean(a - b)), "paired t"
        else:
            res = stats.ttest_ind(a, b, equal_var=False)
            diff, kind = float(a.mean() - b.mean()), "Welch t"
        ci = res.confidence_interval(0.95)
        d = cohens_d(a, b, paired)
    d_lo, d_hi = d_confidence_interval(d, a.size, b.size, paired)
    return TestResult(
        measure=measure,
        group_a=str(group_a),
        group_b=str(group_b),
        test=kind,
        n_a=int(a.size),
        n_b=int(b.size),
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        diff=diff,
        ci_low=float(ci.low),
        ci_high=float(ci.high),
        t=float("nan") if flat else float(res.statistic),
        df=float(res.df),
        p=float("nan") if flat else float(res.pvalue),
        d=d,
        d_ci_low=d_lo,
        d_ci_high=d_hi,
        note=note,
    )


@dataclass
class Correlation:
    x: str
    y: str
    n: int
    r: float
    p: float
    ci_low: float
    ci_high: float
    p_holm: float = math.nan  # p adjusted over the study's correlations (Holm), set by run_tests

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def correlate(table: pd.DataFrame, x: str, y: str) -> Correlation | None:
    """Pearson r of two columns over the rows where both are finite; None below 4 rows (with
    3 rows r has one degree of freedom and no confidence interval)."""
    from scipy import stats

    xy = table[[x, y]].astype(float)
    xy = xy[np.isfinite(xy[x]) & np.isfinite(xy[y])]
    if len(xy) < 4 or xy[x].nunique() < 2 or xy[y].nunique() < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's small-sample remarks
        res = stats.pearsonr(xy[x], xy[y])
        ci = res.confidence_interval(0.95)
    return Correlation(
        x=x, y=y, n=len(xy), r=float(res.statistic), p=float(res.pvalue), ci_low=float(ci.low), ci_high=float(ci.high)
    )


def run_tests(table: pd.DataFrame, design: str = "auto") -> tuple[list[TestResult], list[Correlation]]:
    """Every pair of groups × every measure with data; every ME measure × physiological or
    self-report measure."""
    groups = sorted(str(g) for g in table["group"].unique())
    tests = []
    for a, b in itertools.combinations(groups, 2):
        for m in MEASURES:
            res = compare(table, m, a, b, design)
            if res is not None:
                tests.append(res)
    corrs = []
    for x in ME_MEASURES:
        if x == "me_count":
            continue  # the rate is the count per minute; one of the two is enough
        for y in PHYSIO_MEASURES:
            c = correlate(table, x, y)
            if c is not None:
                corrs.append(c)
    adjust_holm(tests)
    adjust_holm(corrs)
    return tests, corrs


def adjust_holm(results: list) -> None:
    """Set ``p_holm`` of each result: Holm's step-down adjustment of their ``p`` values as one
    family (an undefined p stays NaN and is not counted)."""
    import pingouin as pg

    if not results:
        return
    _, adjusted = pg.multicomp([r.p for r in results], method="holm")
    for r, a in zip(results, adjusted):
        r.p_holm = float(a)
