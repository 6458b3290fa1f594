"""Recognition datasets: one reader per kind, one :class:`Sample` type (``sample.py``).

``read_spec("KIND:ROOT", classes="3")`` → :class:`DatasetRead`. Kinds: ``casme2``, ``samm``,
``smic``, ``casme3``, ``mexlab`` (see each reader's module), and the long-video releases spotting is
scored on: ``casme3`` (Part A), ``casme_sq`` (CAS(ME)^2, also ``cas(me)^2``), ``samm_lv`` (SAMM Long
Videos, also ``sammlv``). Every trainer, evaluator and exporter reads samples through here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acquisition.errors import InputError
from analysis.datasets.classes import Scheme, get_scheme
from analysis.datasets.sample import DatasetRead, FrameSource, Sample

if TYPE_CHECKING:
    from acquisition.catalog import Catalog

KINDS = ("casme2", "samm", "smic", "casme3", "casme_sq", "samm_lv", "mexlab")
#: other spellings of a kind
ALIASES = {
    "cas(me)^2": "casme_sq",
    "cas(me)2": "casme_sq",
    "casme^2": "casme_sq",
    "sammlv": "samm_lv",
    "samm-lv": "samm_lv",
}
#: readers of long videos, which can keep the macro-expression rows
LONG_VIDEO_READERS = ("casme3", "casme_sq", "samm_lv")

__all__ = [
    "KINDS",
    "DatasetRead",
    "FrameSource",
    "Sample",
    "Scheme",
    "get_scheme",
    "parse_spec",
    "read_spec",
    "ALIASES",
    "LONG_VIDEO_READERS",
]


def parse_spec(spec: str) -> tuple[str, list[str]]:
    kind, sep, rest = str(spec).partition(":")
    kind = kind.strip().lower()
    kind = ALIASES.get(kind, kind)
    if not sep or kind not in KINDS or not rest.strip():
        raise InputError(
            f"dataset {spec!r}: expected KIND:ROOT with KIND one of {', '.join(KINDS)} (e.g. casme2:/data/CASME2)"
        )
    if kind == "mexlab":
        return kind, [p for p in rest.split(",") if p.strip()]
    return kind, [rest]


def read_spec(
    spec: str,
    classes: str | Scheme = "3",
    *,
    truth: str | None = None,
    coder: str | None = None,
    include_macro: bool = False,
    catalog: Catalog | str | None = None,
) -> DatasetRead:
    scheme = classes if isinstance(classes, Scheme) else get_scheme(classes)
    kind, roots = parse_spec(spec)
    if kind == "mexlab":
        from analysis.datasets import mexlab_reader

        return mexlab_reader.read(roots, scheme, truth=truth, coder=coder, catalog=catalog, include_macro=include_macro)
    import importlib

    mod = importlib.import_module(f"analysis.datasets.{kind}")
    if kind in LONG_VIDEO_READERS:
        return mod.read(roots[0], scheme, include_macro=include_macro)
    return mod.read(roots[0], scheme)
