"""The recognition network in plain torch (imported only by code that trains or runs a model).

One small CNN encoder per view (``C``×32×32 → ``EMB``-d), a projection head per view for the
contrastive loss, and a linear classifier on the joined embeddings. ``width`` scales the channels:
16 (default, ~40 k parameters, for the 2-core machine) or 64 for a GPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EMB = 64
PROJ = 64


class Encoder(nn.Module):
    def __init__(self, in_ch: int, width: int = 16, emb: int = EMB):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.BatchNorm2d(in_ch, affine=False),
            nn.Conv2d(in_ch, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * w, emb),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MultiViewNet(nn.Module):
    def __init__(
        self, n_classes: int, views: tuple[str, ...], channels: dict[str, int], width: int = 16, dropout: float = 0.3
    ):
        super().__init__()
        self.views = tuple(views)
        self.encoders = nn.ModuleDict({v: Encoder(channels[v], width) for v in self.views})
        self.proj = nn.ModuleDict(
            {v: nn.Sequential(nn.Linear(EMB, EMB), nn.ReLU(), nn.Linear(EMB, PROJ)) for v in self.views}
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(EMB * len(self.views), n_classes)

    def embed(self, x: dict) -> dict:
        return {v: self.encoders[v](x[v]) for v in self.views}

    def forward(self, x: dict) -> torch.Tensor:
        e = self.embed(x)
        return self.head(self.drop(torch.cat([e[v] for v in self.views], dim=1)))


def info_nce(za: torch.Tensor, zb: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE (CMC): row i of ``za`` and ``zb`` are the two views of one segment, all
    other rows of the batch its negatives."""
    za = F.normalize(za, dim=1)
    zb = F.normalize(zb, dim=1)
    logits = za @ zb.t() / temperature
    target = torch.arange(za.shape[0], device=za.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))
