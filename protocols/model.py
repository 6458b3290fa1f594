"""The protocol model: what a protocol file says once it has been read and validated.

Plain dataclasses, with no reading or checking in them: :mod:`protocols.loader` reads and validates a
file into a :class:`Protocol`, :mod:`protocols.plan` expands one into a participant's run, and
:mod:`protocols.check` proves that every run of it can be played. Each of them imports this module;
none of them imports another to get the model (no import circle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Step:
    type: str
    raw: dict  # as written (strings may hold {variables})
    line: int
    path: str  # field path in the file, e.g. blocks[1].trials.steps[0]


@dataclass
class Conditions:
    rows: list[dict]
    source: str  # the CSV file, or the protocol file for an inline table
    lines: list[int]  # the line of each row in its source


@dataclass
class Block:
    id: str
    title: str
    line: int
    path: str
    repeat: int = 1
    variables: dict = field(default_factory=dict)
    before: list[Step] = field(default_factory=list)
    trial_steps: list[Step] = field(default_factory=list)
    after: list[Step] = field(default_factory=list)
    conditions: Conditions | None = None
    conditions_template: str | None = None  # a CSV name with {variables} (chosen per group)
    order: str = "fixed"
    trial_repeat: int = 1


@dataclass
class Protocol:
    name: str
    path: Path
    title: str = ""
    description: str = ""
    version: str = ""
    stimuli: Path | None = None
    demo_stimuli: bool = False
    screen: dict = field(default_factory=dict)
    emotions: list[str] = field(default_factory=list)
    variables: dict = field(default_factory=dict)
    groups: list[dict] = field(default_factory=list)
    block_order: str = "fixed"
    blocks: list[Block] = field(default_factory=list)
    lines: dict = field(default_factory=dict)  # field path tuple -> line

    @property
    def folder(self) -> Path:
        return self.path.parent

    def line_of(self, parts: tuple) -> int | None:
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), None)


DEFAULT_EMOTIONS = ["happiness", "surprise", "sadness", "fear", "disgust", "anger", "contempt", "neutral", "other"]
DEFAULT_SCREEN = {"background": "#000000", "foreground": "#E6E6E6", "font_size": 40, "photodiode": False}
