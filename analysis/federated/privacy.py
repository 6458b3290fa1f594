"""Optional client-side clipping and Gaussian noise of a site's update (local DP style).

The clipping and noise are Flower's own helpers (``flwr.supercore.differential_privacy``:
``clip_inputs_inplace``, ``get_norm``), applied to the delta on the site before it is sent, as
Flower's ``LocalDpMod`` does for synchronous FedAvg. Flower's privacy *accounting* wraps its
synchronous aggregation only; nothing here accounts for epsilon over an asynchronous run (see
docs/federated.md). Secure aggregation (SecAgg+) is synchronous only in Flower and is not offered.
"""

from __future__ import annotations

import numpy as np


def clip_and_noise(
    delta: list[np.ndarray],
    clip_norm: float | None,
    noise_multiplier: float = 0.0,
    rng: np.random.Generator | None = None,
) -> tuple[list[np.ndarray], dict]:
    """Clip the update to L2 norm ``clip_norm`` and add N(0, (noise_multiplier * clip_norm)^2).

    Returns the new arrays and what was done (norm before, scale), for the site's metrics.
    """
    out = [np.array(d, dtype=np.float32, copy=True) for d in delta]
    info: dict = {}
    if clip_norm is None:
        return out, info
    if clip_norm <= 0:
        raise ValueError("the clipping norm must be > 0")
    from flwr.supercore.differential_privacy import clip_inputs_inplace, get_norm

    norm = get_norm(out)
    info["update-norm"] = float(norm)
    if norm > 0:  # Flower's helper divides by the norm
        clip_inputs_inplace(out, clip_norm)
    if noise_multiplier > 0:
        rng = rng or np.random.default_rng()
        std = noise_multiplier * clip_norm
        for a in out:
            a += rng.normal(0.0, std, a.shape).astype(a.dtype)
        info["noise-std"] = float(std)
    return out, info
