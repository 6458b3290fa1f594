"""Grouping (detect.group_candidates), eleventh round of issue 15: a region's rise and fall that
were not joined into one movement go into the group of the movement they belong to."""

from __future__ import annotations

from analysis.spotting.detect import Candidate, DetectParams, group_candidates

FPS = 50.0


def _c(region: str, onset: int, apex: int, offset: int, amp: float) -> Candidate:
    return Candidate(region, onset, apex, offset, amp, 0.12, (0.0, amp), ("AU4",))


def _groups(cands, **kw):
    return [
        sorted(m.region + f"@{m.onset}" for m in g.members) for g in group_candidates(cands, FPS, DetectParams(**kw))
    ]


def test_a_regions_rise_and_fall_join_the_movements_group():
    # an AU4 at 50 fps, as on the varied rig: the outer brow's movement 2289-2307 (apex 2304); the
    # inner brow's rise (2287-2293) and fall (2303-2313) were two candidates of their own
    move = _c("brow_out_l", 2289, 2304, 2307, 0.49)
    rise = _c("brow_in_l", 2287, 2288, 2293, 0.17)
    fall = _c("brow_in_l", 2303, 2308, 2313, 0.28)
    other = _c("nose_r", 2400, 2405, 2410, 0.3)  # another movement, 2 s later
    assert _groups([move, rise, fall, other]) == [
        ["brow_in_l@2287", "brow_in_l@2303", "brow_out_l@2289"],
        ["nose_r@2400"],
    ]
    # without the tolerance (before the eleventh round) the rise and the fall were groups, flagged
    assert len(_groups([move, rise, fall, other], group_apex_tol_s=0.0)) == 4


def test_the_tolerance_is_the_frames_of_group_apex_tol_s_and_needs_an_overlap():
    move = _c("brow_out_l", 2289, 2304, 2307, 0.49)
    # 0.05 s at 50 fps: 2 frames (round(2.5)); an apex 3 frames past the member's end is another group
    assert len(_groups([move, _c("brow_in_l", 2303, 2310, 2313, 0.28)])) == 2
    assert len(_groups([move, _c("brow_in_l", 2303, 2309, 2313, 0.28)])) == 1
    assert len(_groups([move, _c("brow_in_l", 2303, 2310, 2313, 0.28)], group_apex_tol_s=0.07)) == 1
    # an apex within the tolerance but no overlap: another movement
    assert len(_groups([move, _c("brow_in_l", 2308, 2309, 2313, 0.28)])) == 2
