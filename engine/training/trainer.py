"""Training SAGA's affinity features on the frozen geometry (SPEC section 3.3-3.7).

Every Gaussian has a raw feature f_i in R^D and the scene has one scale gate S(s) = sigmoid(W s + b). The
feature used everywhere is the mean of the raw features of the Gaussian's K = 16 nearest neighbours (half
of them dropped at random per iteration during training). A pixel's feature is
F(p) = sum_k w_{p,k} f_k / ||f_k|| over its precomputed contributors, so no rasteriser runs in the loop.
Each iteration takes one view, N_p pixels and N_s random scales plus 0 and 1, and minimises
``contrastive_loss.saga_loss`` with Adam.

The gate starts "spread": dimension d is on below its own unit scale c_d (c spread over [0, 1]) and off above,
so every granularity owns some dimensions from the first step. With a random start the gates of all
dimensions drift together, the fine levels (a mug's handle, a die next to an apple) are out-voted by the
coarse ones in a shared subspace, and never separate (accuracy benchmark: parts mIoU 0.76 -> 0.86).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .contrastive_loss import saga_loss
from .pixel_identity import mask_correspondence, unpack_membership
from .view_records import ViewRecord


class TrainingCancelled(RuntimeError):
    """Training stopped because the caller asked for it (nothing was written)."""


@dataclass
class TrainSettings:
    feature_dim: int = 32
    iterations: int = 3000
    lr: float = 0.03  # SAGA uses 0.0025 for 10,000 iterations of 1000 pixels; we train far fewer steps
    num_scales: int = 8  # random scales per iteration, plus the extremes 0 and 1
    num_pixels: int = 1000
    knn: int = 16
    knn_keep: float = 0.5  # fraction of neighbours kept per iteration while training
    init_std: float = 0.1
    # share of each iteration's pixels drawn mask-first (a random mask, then a random pixel in it), so
    # small parts are sampled as often as large ones; the rest are uniform over covered pixels (SAGA)
    mask_balanced: float = 0.5
    gate_init: str = "spread"  # "spread" (each dimension switches off at its own scale) or "random"
    gate_sharpness: float = 10.0
    # which masks a pixel is at a scale (pixel_identity.py): "nested" (each thing from its own scale up to its
    # parent's) or "saga" (SAGA's eq. 6: the smallest mask of scale >= s as well)
    identity: str = "nested"
    identity_band: float = 0.35
    seed: int = 0
    # after training, Gaussians no view sees take the features of the seen ones around them (hidden_gaussians.py)
    fill_hidden: bool = True
    # with a 3D segmentation of the splat (geometric masks), the K-NN smoothing stays within each finest segment
    segment_smoothing: bool = True
    # share of the iterations that draw a close-up view (when there are close-ups; the rest draw the other views)
    close_up_share: float = 0.15

    def to_dict(self) -> dict:
        return asdict(self)


class AffinityModel(nn.Module):
    """Raw per-Gaussian features [N, D] and the scale gate Linear(1, D) + sigmoid."""

    def __init__(self, num_gaussians: int, dim: int, init_std: float, generator: torch.Generator,
                 gate_init: str = "spread", gate_sharpness: float = 10.0):  # fmt: skip
        super().__init__()
        self.features = nn.Parameter(torch.randn(num_gaussians, dim, generator=generator) * init_std)
        self.gate = nn.Linear(1, dim)
        with torch.no_grad():
            if gate_init == "spread":
                # dimension d starts "on" below the unit scale c_d and "off" above it, the c_d spread evenly
                # over [0, 1] and a little beyond: from the first step every granularity has dimensions of
                # its own, so the fine levels are not out-voted by the coarse ones in a shared subspace
                c = torch.linspace(0.0, 1.0 + 2.0 / gate_sharpness, dim)
                self.gate.weight.copy_(torch.full((dim, 1), -gate_sharpness))
                self.gate.bias.copy_(gate_sharpness * c)
            elif gate_init == "random":  # deterministic random init from the same generator
                self.gate.weight.copy_(torch.randn(dim, 1, generator=generator) * 0.5)
                self.gate.bias.zero_()
            else:
                raise ValueError(f"gate_init must be 'spread' or 'random', not {gate_init!r}")

    def gates(self, scales: torch.Tensor) -> torch.Tensor:
        """[S] unit scales -> [S, D] gate vectors."""
        return torch.sigmoid(self.gate(scales[:, None]))


def smoothed(raw: torch.Tensor, neighbours: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor | None = None):
    """Mean raw feature over the neighbours (optionally a subset of neighbour columns) of Gaussians ``rows``."""
    nb = neighbours[rows] if cols is None else neighbours[rows][..., cols]
    return raw[nb].mean(dim=-2)


class RowAdam:
    """Adam for a large [N, D] table of which each step reads only a few rows ("lazy" Adam, as
    torch.optim.SparseAdam): moments and bias correction advance only for the rows that got a gradient."""

    def __init__(self, table: torch.Tensor, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.table, self.lr, self.betas, self.eps = table, lr, betas, eps
        self.m = torch.zeros_like(table)
        self.v = torch.zeros_like(table)
        self.t = torch.zeros(table.shape[0], dtype=table.dtype, device=table.device)

    @torch.no_grad()
    def step(self, rows: torch.Tensor, grad: torch.Tensor) -> None:
        """One Adam step for the distinct ``rows`` [R] with their gradient [R, D]."""
        b1, b2 = self.betas
        t = self.t.index_select(0, rows).add_(1)
        self.t.index_copy_(0, rows, t)
        m = self.m.index_select(0, rows).mul_(b1).add_(grad, alpha=1 - b1)
        v = self.v.index_select(0, rows).mul_(b2).addcmul_(grad, grad, value=1 - b2)
        self.m.index_copy_(0, rows, m)
        self.v.index_copy_(0, rows, v)
        denom = v.div_((1 - b2**t)[:, None]).sqrt_().add_(self.eps)
        update = m.div_((1 - b1**t)[:, None]).div_(denom)
        # rows are distinct, so a gather-update-scatter is exact (and much faster than index_add_ on CPU)
        self.table.index_copy_(0, rows, self.table.index_select(0, rows).sub_(update, alpha=self.lr))


def smoothed_all(raw: torch.Tensor, neighbours: torch.Tensor, chunk: int = 262_144) -> torch.Tensor:
    """The saved feature: mean over all K neighbours, for every Gaussian [N, D]."""
    out = torch.empty_like(raw)
    for start in range(0, raw.shape[0], chunk):
        rows = torch.arange(start, min(start + chunk, raw.shape[0]))
        out[rows] = smoothed(raw, neighbours, rows)
    return out


class PixelBatch:
    """What one training step reads: the contributors of P pixels, the distinct Gaussians among them, and the
    distinct rows of the feature table their (kept) neighbours point to, as a small leaf tensor, so autograd
    and the optimiser never touch the whole [N, D] table."""

    def __init__(self, table: torch.Tensor, neighbours: torch.Tensor, ids: torch.Tensor, weights: torch.Tensor,
                 cols: torch.Tensor | None):  # fmt: skip
        self.weights = weights * (ids >= 0)  # [P, Kc]
        gaussians, self.pixel_to_gaussian = torch.unique(ids.clamp_min(0), return_inverse=True)  # [G], [P, Kc]
        nb = neighbours[gaussians] if cols is None else neighbours[gaussians][:, cols]  # [G, k]
        self.rows, self.gaussian_to_rows = torch.unique(nb, return_inverse=True)  # [R], [G, k]
        self.leaf = table.index_select(0, self.rows).requires_grad_(True)  # [R, D]

    def render(self) -> torch.Tensor:
        """F(p) [P, D] = sum_k w_pk unit(smoothed f_{id_pk}), smoothed = mean over the kept neighbours.
        Both sums are embedding bags: a fused gather-reduce whose backward is a fused scatter-add."""
        feats = F.embedding_bag(self.gaussian_to_rows, self.leaf, mode="mean")  # [G, D]
        unit = feats / feats.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        return F.embedding_bag(self.pixel_to_gaussian, unit, per_sample_weights=self.weights, mode="sum")


def sample_rows(rec: ViewRecord, n: int, mask_balanced: float, gen: torch.Generator) -> np.ndarray:
    """Sorted distinct rows of a record: ``mask_balanced`` of them mask-first, the rest uniform."""
    total = len(rec.pixels)
    n = min(n, total)
    n_mask = round(n * mask_balanced) if rec.num_masks else 0
    uniform = torch.randperm(total, generator=gen)[: n - n_mask].numpy()
    if n_mask == 0:
        return np.sort(uniform)
    offsets = np.asarray(rec.mask_offsets)
    masks = torch.randint(rec.num_masks, (n_mask,), generator=gen).numpy()
    start, size = offsets[masks], offsets[masks + 1] - offsets[masks]
    pick = start + (torch.rand(n_mask, generator=gen).numpy() * size).astype(np.int64)
    from_masks = np.asarray(rec.mask_rows)[pick[size > 0]]
    return np.unique(np.concatenate([uniform, from_masks]))


@dataclass
class TrainResult:
    features: np.ndarray  # [N, D] float32 smoothed (all K neighbours)
    gate_weight: np.ndarray  # [D, 1]
    gate_bias: np.ndarray  # [D]
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


ProgressFn = Callable[[int, int, dict], None]


def train_features(
    records: list[ViewRecord],
    unit_scales: list[np.ndarray],  # per record: [M] mask scales mapped to [0, 1], ascending
    neighbours: np.ndarray,  # [N, K] int kNN indices (self included)
    settings: TrainSettings,
    device: str = "cpu",
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    close_ups: list[bool] | None = None,  # per record: a close-up view
) -> TrainResult:
    """Train and return the smoothed features and the gate. Deterministic for ``settings.seed`` on CPU.

    A close-up frames part of the scene: what its frame cuts has no mask there (``masks.source.drop_cut_masks``),
    so its pixels are drawn from its masks only, its scales only up to its largest mask's, and a pair of its pixels
    counts only up to the scales where both pixels are still in a whole mask (``known``): above that the view does not
    say what belongs together (the table its objects stand on is not in it)."""
    usable = [i for i, r in enumerate(records) if r.num_masks > 0 and len(r.pixels) >= 2]
    if not usable:
        raise ValueError("no view has both masks and covered pixels: nothing to learn from")
    gen = torch.Generator().manual_seed(settings.seed)
    nb = torch.from_numpy(np.ascontiguousarray(neighbours, dtype=np.int64)).to(device)
    model = AffinityModel(
        nb.shape[0], settings.feature_dim, settings.init_std, gen, settings.gate_init, settings.gate_sharpness
    ).to(device)
    # Adam on the gate; lazy row-wise Adam on the features: a step only touches the rows that were read.
    opt_gate = torch.optim.Adam(model.gate.parameters(), lr=settings.lr)
    opt_features = RowAdam(model.features.data, lr=settings.lr)
    keep = max(1, round(settings.knn_keep * nb.shape[1]))
    near = [i for i in usable if close_ups is not None and close_ups[i]]
    far = [i for i in usable if i not in near]
    losses: list[float] = []
    t0 = time.perf_counter()
    for step in range(settings.iterations):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("training cancelled")
        pool = usable
        if near and far:
            pool = near if float(torch.rand(1, generator=gen)) < settings.close_up_share else far
        v = pool[int(torch.randint(len(pool), (1,), generator=gen))]
        rec = records[v]
        close = close_ups is not None and close_ups[v]
        rows = sample_rows(rec, settings.num_pixels, 1.0 if close else settings.mask_balanced, gen)
        ids = torch.from_numpy(np.asarray(rec.ids[rows], np.int64)).to(device)
        weights = torch.from_numpy(np.asarray(rec.weights[rows], np.float32)).to(device)
        member = unpack_membership(torch.from_numpy(np.asarray(rec.membership[rows])), rec.num_masks).to(device)
        mask_s = torch.from_numpy(np.asarray(unit_scales[v], np.float32)).to(device)
        top = float(mask_s.max()) if close else 1.0
        s = (torch.cat([torch.rand(settings.num_scales, generator=gen), torch.tensor([0.0, 1.0])]) * top).to(device)
        cols = torch.randperm(nb.shape[1], generator=gen)[:keep].to(device)
        batch = PixelBatch(model.features.data, nb, ids, weights, cols)
        rendered = batch.render()
        corr_m = mask_correspondence(member, mask_s, s, settings.identity, settings.identity_band)
        mean_area = torch.from_numpy(np.asarray(rec.mean_area[rows], np.float32)).to(device)
        known = None
        if close:  # a pair says something up to the largest whole thing holding both of its pixels
            top_p = torch.where(member, mask_s[None, :], torch.zeros((), device=device)).amax(dim=1)
            known = s[:, None, None] <= torch.minimum(top_p[:, None], top_p[None, :])[None]
        loss, stats = saga_loss(rendered, model.gates(s), corr_m, mean_area, gen, known)
        opt_gate.zero_grad(set_to_none=True)
        loss.backward()
        opt_gate.step()
        opt_features.step(batch.rows, batch.leaf.grad)
        losses.append(stats["loss"])
        if progress is not None:
            progress(step + 1, settings.iterations, stats)
    with torch.no_grad():
        final = smoothed_all(model.features, nb).cpu().numpy().astype(np.float32)
    return TrainResult(
        final,
        model.gate.weight.detach().cpu().numpy().copy(),
        model.gate.bias.detach().cpu().numpy().copy(),
        losses,
        time.perf_counter() - t0,
    )


def knn_neighbours(means: np.ndarray, k: int = 16) -> np.ndarray:
    """[N, k] indices of each Gaussian's k nearest Gaussians by position (itself first)."""
    from scipy.spatial import cKDTree

    k = min(k, len(means))
    _, idx = cKDTree(means).query(means, k=k, workers=-1)
    return np.asarray(idx, dtype=np.int64).reshape(len(means), k)
