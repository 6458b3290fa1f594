"""Class schemes: a raw emotion label → its class, or left out. Unknown labels are named, never guessed.

``3``  MEGC 2019 composite: negative = anger, contempt, disgust, fear, repression, sadness (and the
       label *negative*); positive = happiness (*positive*); surprise = surprise; *others* left out.
``5``  CASME II: happiness, disgust, repression, surprise, others (fear and sadness, too rare in
       CASME II, are left out, as in the literature).
``4``  CAS(ME)^3: negative (anger, contempt, disgust, fear, sadness), positive (happiness),
       surprise, others.
``7``  CAS(ME)^3: anger, disgust, fear, happiness, sadness, surprise, others.
A mapping file: one ``label,class`` per line (``#`` comments; an empty class or ``-`` leaves the
label out), for a lab's own labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acquisition.errors import DataError, FileFormatError, InputError

#: spellings seen in the releases → canonical label
SYNONYMS = {
    "happy": "happiness",
    "happiness": "happiness",
    "positive": "positive",
    "pos": "positive",
    "sad": "sadness",
    "sadness": "sadness",
    "surprise": "surprise",
    "surprised": "surprise",
    "anger": "anger",
    "angry": "anger",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "contempt": "contempt",
    "repression": "repression",
    "others": "others",
    "other": "others",
    "negative": "negative",
    "neg": "negative",
}

NEG = ("anger", "contempt", "disgust", "fear", "repression", "sadness", "negative")

SCHEMES: dict[str, tuple[tuple[str, ...], dict[str, str | None]]] = {
    "3": (
        ("negative", "positive", "surprise"),
        {
            **{k: "negative" for k in NEG},
            "happiness": "positive",
            "positive": "positive",
            "surprise": "surprise",
            "others": None,
        },
    ),
    "5": (
        ("happiness", "disgust", "repression", "surprise", "others"),
        {
            "happiness": "happiness",
            "disgust": "disgust",
            "repression": "repression",
            "surprise": "surprise",
            "others": "others",
            "fear": None,
            "sadness": None,
        },
    ),
    "4": (
        ("negative", "positive", "surprise", "others"),
        {
            **{k: "negative" for k in NEG if k != "repression"},
            "happiness": "positive",
            "positive": "positive",
            "surprise": "surprise",
            "others": "others",
        },
    ),
    "7": (
        ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "others"),
        {
            "anger": "anger",
            "disgust": "disgust",
            "fear": "fear",
            "happiness": "happiness",
            "sadness": "sadness",
            "surprise": "surprise",
            "others": "others",
            "contempt": None,
        },
    ),
}


def canonical(label: str) -> str:
    s = " ".join(str(label or "").strip().lower().split())
    return SYNONYMS.get(s, s)


@dataclass(frozen=True)
class Scheme:
    name: str
    classes: tuple[str, ...]
    table: dict[str, str | None]

    def classify(self, label: str) -> tuple[bool, str | None]:
        """``(known, class)``: class None = left out by the scheme."""
        c = canonical(label)
        if c in self.table:
            return True, self.table[c]
        return False, None

    def check(self, labels_where: dict[str, list[str]], what: str) -> None:
        """Raise naming every unknown label (with where it was seen)."""
        bad = {lab: w for lab, w in labels_where.items() if not self.classify(lab)[0]}
        if bad:
            parts = [f"{lab!r} ({', '.join(w[:3])}{' …' if len(w) > 3 else ''})" for lab, w in sorted(bad.items())]
            raise DataError(
                f"{what}: unknown emotion label(s) for class scheme {self.name}: "
                f"{'; '.join(parts)} — give a mapping file (--classes FILE) that "
                f"names them"
            )


def get_scheme(spec: str) -> Scheme:
    spec = str(spec)
    if spec in SCHEMES:
        classes, table = SCHEMES[spec]
        return Scheme(spec, classes, dict(table))
    p = Path(spec)
    if not p.is_file():
        raise InputError(f"class scheme {spec!r}: neither 3, 5, 4, 7 nor a mapping file")
    table: dict[str, str | None] = {}
    classes: list[str] = []
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"{p}: cannot read the class mapping ({exc})") from None
    for n, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [x.strip() for x in line.split(",")]
        if len(parts) != 2 or not parts[0]:
            raise FileFormatError(f"{p}, line {n}: expected 'label,class', got {line!r}")
        if parts[0].lower() == "label" and parts[1].lower() == "class":
            continue
        cls = parts[1] if parts[1] not in ("", "-") else None
        table[canonical(parts[0])] = cls
        if cls is not None and cls not in classes:
            classes.append(cls)
    if not classes:
        raise FileFormatError(f"{p}: the class mapping names no class")
    return Scheme(str(p), tuple(classes), table)


#: The simulated rig writes AUs, not emotions: its expressions get an emotion from their AUs
#: (documented in docs/recognition.md). Any other AU set is 'others'.
RIG_AU_EMOTION = {
    frozenset({"AU12"}): "positive",
    frozenset({"AU6", "AU12"}): "positive",
    frozenset({"AU7", "AU12"}): "positive",
    frozenset({"AU15", "AU17"}): "negative",
    frozenset({"AU1", "AU2"}): "surprise",
    frozenset({"AU4"}): "negative",
    frozenset({"AU9"}): "negative",
    frozenset({"AU14"}): "negative",
    frozenset({"AU15"}): "negative",
    frozenset({"AU4", "AU7"}): "negative",
}


def rig_emotion(aus: str) -> str:
    s = frozenset(a.strip().upper() for a in str(aus or "").replace(",", "+").split("+") if a.strip())
    return RIG_AU_EMOTION.get(s, "others")
