"""One real prior-loss-weighted training step on a real batch (spec §4, §5, §7).

The batch is drawn from the balance simulation the way sd-scripts would batch it (one bucket,
train and reg mixed when a bucket holds both), the images are loaded as sd-scripts loads them
(RGB, resized to cover the bucket, centre-cropped, scaled to [-1, 1]) and 8x average-pooled to
latent size, and a small seeded convolutional denoiser takes one noise-prediction step with
sd-scripts' loss: per-element loss, mean over C, H, W, times each sample's weight, mean over the
batch. Then the step is checked against independent recomputations.

torch is imported inside ``run`` only, so every other command starts without it.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from enum import Enum

from PIL import Image

from .balance import BalancePlan
from ..limits import problem
from ..sdscripts.registration import Registered
from ..safeio import open_regular


class LossType(str, Enum):
    L2 = "l2"
    L1 = "l1"
    HUBER = "huber"
    SMOOTH_L1 = "smooth_l1"


class Weighting(str, Enum):
    """How the step weights samples. Only CORRECT is sd-scripts; the others exist so tests can
    prove the checks catch a broken weighting."""

    CORRECT = "correct"
    IGNORED = "ignored"  # weights computed but not applied


class SmokeError(Exception):
    """Nothing to train on, or an environment that cannot run the step; exit 2."""


@dataclass(frozen=True)
class SmokeOptions:
    batch_size: int | None = None  # None: the batch size sd-scripts uses for the dataset (see batch_size_of)
    device: str = "auto"
    dtype: str = "fp32"
    seed: int = 0
    loss_type: LossType = LossType.L2
    huber_c: float = 0.1
    prior_loss_weight: float = 1.0
    weighting: Weighting = Weighting.CORRECT
    train_batch_size: int = 1  # the command's --train_batch_size (sd-scripts' default 1) ...
    train_batch_size_given: bool = False  # ... and whether the command gives it
    train_batch_size_in_config: bool = False  # ... or its --config_file (the kohya_ss GUI's TOML)


@dataclass(frozen=True)
class Sample:
    path: str
    is_reg: bool
    caption: str
    bucket: tuple[int, int]
    weight: float = 0.0
    loss: float = 0.0


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class SmokeResult:
    device: str
    dtype: str
    samples: tuple[Sample, ...]
    weighted_loss: float
    checks: tuple[Check, ...]
    batch_note: str
    step_seconds: float
    peak_memory_bytes: int
    peak_memory_kind: str
    diffusers_loss: float | None
    notes: tuple[str, ...] = field(default=())
    batch_size: int = 0  # the batch size asked for (the batch holds fewer samples when its bucket has fewer)
    batch_source: str = ""  # where it comes from: "--batch-size", or the dataset's batch size in the command
    skipped: tuple[tuple[str, str, str], ...] = ()  # (path, why, finding code) of images left out: fail to load

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


SCOPE = ("it checks the prior-loss-weighted step wiring (weights, loss, gradient) on a small stand-in model; "
         "it is not a speed or memory estimate for your model")


def batch_size_of(plan: BalancePlan) -> int:
    """The batch size sd-scripts batches the smoke batch's samples with: the dataset's (the dataset
    config's batch_size, else --train_batch_size, else 1); with datasets of several sizes, that of the
    dataset with the most samples."""
    sized = [(sum(r.num_repeats for r in d.images), d.params.batch_size) for d in plan.datasets if d.images]
    if not sized:
        return 1
    return max(1, max(sized, key=lambda x: x[0])[1])


def choose_batch(plan: BalancePlan, batch_size: int,
                 usable=lambda r: True) -> tuple[list[Registered], tuple[int, int], str]:
    """Samples for one batch: a bucket holding train and reg samples when one exists (the one with
    the most samples), half reg at most; else train from one bucket and reg from another.
    ``usable`` filters out images that cannot be loaded."""
    if plan.no_data:
        raise SmokeError("no image is registered: sd-scripts stops with 'No data found'; there is nothing to train on")
    if plan.crash is not None and plan.crash.stage not in ("load", "train"):
        first = next((f for f in plan.findings if f.severity.value == "error"), None)
        raise SmokeError("sd-scripts would not start on this dataset"
                         + (f": {first.code} {first.message} ({first.path})" if first else ""))
    by_bucket: dict[tuple[int, int], list[Registered]] = {}
    for d in plan.datasets:
        for r in d.images:
            if r.bucket is not None and usable(r):
                by_bucket.setdefault(r.bucket, []).append(r)
    if not by_bucket:
        raise SmokeError("no image is registered: there is nothing to train on")
    mixed = [(b, rs) for b, rs in by_bucket.items() if any(r.is_reg for r in rs) and any(not r.is_reg for r in rs)]
    if mixed:
        bucket, rs = max(mixed, key=lambda x: sum(r.num_repeats for r in x[1]))
        train = [r for r in rs if not r.is_reg]
        reg = [r for r in rs if r.is_reg]
        n_reg = min(len(reg), max(1, batch_size // 2))
        picked = train[: batch_size - n_reg] + reg[:n_reg]
        if len(picked) < batch_size:
            picked += reg[n_reg:n_reg + batch_size - len(picked)]
        return picked, bucket, f"one bucket {bucket[0]}x{bucket[1]} holds both train and reg samples"
    train_b = max((b for b, rs in by_bucket.items() if any(not r.is_reg for r in rs)),
                  key=lambda b: len(by_bucket[b]))
    reg_buckets = [b for b, rs in by_bucket.items() if any(r.is_reg for r in rs)]
    train = [r for r in by_bucket[train_b] if not r.is_reg]
    if not reg_buckets:
        return train[:batch_size], train_b, (f"no reg images are registered; a train-only batch from bucket "
                                             f"{train_b[0]}x{train_b[1]}")
    reg_b = max(reg_buckets, key=lambda b: len(by_bucket[b]))
    reg = [r for r in by_bucket[reg_b] if r.is_reg]
    n_reg = min(len(reg), max(1, batch_size // 2))
    picked = train[: batch_size - n_reg] + reg[:n_reg]
    return picked, train_b, (f"no bucket holds both train and reg samples, so sd-scripts never mixes them in a "
                             f"batch; composed from bucket {train_b[0]}x{train_b[1]} (train) and "
                             f"{reg_b[0]}x{reg_b[1]} (reg, resized to {train_b[0]}x{train_b[1]})")


def load_pixels(r: Registered, bucket: tuple[int, int]):
    """The image as sd-scripts feeds it: RGB (no EXIF rotation), resized to cover the bucket,
    centre-cropped, as a float array in [-1, 1], channels first."""
    import numpy as np

    with open_regular(r.record.path) as fh, Image.open(fh) as im:
        im = im.convert("RGB")
        w, h = im.size
        bw, bh = bucket
        scale = bh / h if w / h > bw / bh else bw / w
        size = (max(bw, int(w * scale + 0.5)), max(bh, int(h * scale + 0.5)))
        im = im.resize(size, Image.Resampling.LANCZOS if scale > 1 else Image.Resampling.BOX)
        left, top = (size[0] - bw) // 2, (size[1] - bh) // 2
        im = im.crop((left, top, left + bw, top + bh))
        arr = np.asarray(im, dtype=np.float32) / 127.5 - 1.0
    return arr.transpose(2, 0, 1)


def _per_element(torch, pred, target, loss_type: LossType, c: float):
    d = pred - target
    if loss_type is LossType.L2:
        return d * d
    if loss_type is LossType.L1:
        return d.abs()
    if loss_type is LossType.HUBER:
        return 2 * c * (torch.sqrt(d * d + c * c) - c)
    return 2 * (torch.sqrt(d * d + c * c) - c)  # smooth_l1: sd-scripts' pseudo-Huber without the c factor


MAX_SIDE = 4096  # pixels on a side of the smoke batch's bucket
MAX_BATCH_PIXELS = 1 << 26  # samples x width x height: 16 images of 2048x2048, ~0.8 GB as float32


def check_options(opts: SmokeOptions) -> None:
    """Raise SmokeError for a number no smoke step can use (a seed torch rejects, a huber_c of 0)."""
    for name, value in (("batch-size", 1 if opts.batch_size is None else opts.batch_size), ("seed", opts.seed), ("huber-c", opts.huber_c),
                        ("prior_loss_weight", opts.prior_loss_weight)):
        why = problem(name, value)
        if why:
            raise SmokeError(f"--{name}: {why}")


def check_bucket(bucket: tuple[int, int], samples: int) -> None:
    """The batch's image size must give a whole latent (1/8 of the image, as an SD VAE) and fit in memory."""
    w, h = bucket
    if w < 8 or h < 8 or w % 8 or h % 8 or w > MAX_SIDE or h > MAX_SIDE:
        raise SmokeError(f"the batch's image size {w}x{h} cannot be trained: each side must be a multiple of 8 "
                         f"(the latent is 1/8 of the image) between 8 and {MAX_SIDE}; check --resolution and the "
                         f"bucket options")
    if samples * w * h > MAX_BATCH_PIXELS:
        raise SmokeError(f"{samples} samples of {w}x{h} are more pixels than a smoke step needs "
                         f"(at most {MAX_BATCH_PIXELS:,}); use a smaller --batch-size")


def run(plan: BalancePlan, opts: SmokeOptions) -> SmokeResult:
    check_options(opts)
    try:
        import torch
        from torch import nn
    except ImportError:
        raise SmokeError("torch is not installed: pip install 'regaudit[smoke]' "
                         "(CPU only: pip install torch==2.13.0, or pass -c constraints.txt)") from None
    broken: dict[str, str] = {}

    def usable(r: Registered) -> bool:
        if r.record.abs_path not in broken and len(broken) < 1000:
            try:
                with open_regular(r.record.path) as fh, Image.open(fh) as im:
                    im.draft("RGB", (64, 64))
                    im.load()
            except Exception as exc:
                broken[r.record.abs_path] = f"{type(exc).__name__}: {exc}"
        return r.record.abs_path not in broken

    batch_size = opts.batch_size if opts.batch_size is not None else batch_size_of(plan)
    picked, bucket, note = choose_batch(plan, batch_size, _Lazy(usable, batch_size))
    if len(picked) == 1:
        note += (f"; with batch size 1 each step holds one sample: a {'reg' if picked[0].is_reg else 'train'} sample "
                 f"here" + (", so its prior_loss_weight is what the step checks" if picked[0].is_reg else ""))
    check_bucket(bucket, len(picked))
    device = _device(torch, opts.device)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[opts.dtype]
    if dtype is torch.float16 and device.type != "cuda":
        raise SmokeError("--dtype fp16 needs a CUDA device; use fp32 or bf16 on the CPU")
    torch.manual_seed(opts.seed)
    import numpy as np

    pixels = torch.from_numpy(np.stack([load_pixels(r, bucket) for r in picked]))
    latents = nn.functional.avg_pool2d(pixels, 8).to(device)  # the size an SD VAE latent would have
    b = latents.shape[0]
    weights = torch.tensor([opts.prior_loss_weight if r.is_reg else 1.0 for r in picked], dtype=torch.float32,
                           device=device)
    gen = torch.Generator(device="cpu").manual_seed(opts.seed)
    noise = torch.randn(latents.shape, generator=gen).to(device)
    timesteps = torch.randint(0, 1000, (b,), generator=gen).to(device)
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2  # SD's scaled-linear
    alphas = torch.cumprod(1 - betas, 0).to(torch.float32).to(device)
    a = alphas[timesteps].view(-1, 1, 1, 1)
    noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
    model = _denoiser(nn).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    params = [p for p in model.parameters()]
    before = [p.detach().clone() for p in params]

    def per_sample(weights_used):
        with torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not torch.float32):
            pred = model(noisy, timesteps)
        elem = _per_element(torch, pred.float(), noise, opts.loss_type, opts.huber_c)
        losses = elem.mean(dim=(1, 2, 3))  # mean over C, H, W; no renormalisation
        return losses, (losses * weights_used).mean()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    applied = weights if opts.weighting is Weighting.CORRECT else torch.ones_like(weights)
    losses, batch_loss = per_sample(applied)
    opt.zero_grad()
    batch_loss.backward()
    grads = [p.grad.detach().clone() for p in params]
    opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    step_seconds = time.perf_counter() - t0
    peak, peak_kind = _peak_memory(torch, device)

    # --- independent recomputations, on the parameters as they were before the step
    with torch.no_grad():
        after = [p.detach().clone() for p in params]
        for p, v in zip(params, before):
            p.copy_(v)
    checks = []
    # an image that fails to load is the scan's finding (sd-scripts crashes on it), not the step's:
    # left out of the batch with a note
    codes = {f.path: f.code for f in plan.findings if f.severity.value == "error"}
    skipped = tuple((path, why, codes.get(path, "")) for path, why in broken.items())
    plw = opts.prior_loss_weight
    wrong = [i for i, r in enumerate(picked) if float(weights[i]) != (plw if r.is_reg else 1.0)]
    checks.append(Check("weights", not wrong,
                        f"reg samples weigh {plw:g} and train samples 1.0" if not wrong else
                        f"samples {wrong} have the wrong weight"))
    ls = [float(x) for x in losses.detach().double()]
    expect = sum(float(weights[i]) * ls[i] for i in range(b)) / b
    got = float(batch_loss.detach())
    tol = 1e-5 if dtype is torch.float32 else 1e-2
    checks.append(Check("batch loss", _close(got, expect, tol),
                        f"back-propagated {got:.6g}; sum(weight x per-sample loss) / {b} = {expect:.6g}"))
    per_grads = []
    for i in range(b):
        model.zero_grad()
        li, _ = per_sample(weights)
        li[i].backward()
        per_grads.append([p.grad.detach().clone() for p in params])
    combo = [sum(float(weights[i]) * per_grads[i][k] for i in range(b)) / b for k in range(len(params))]
    err = _rel_err(torch, grads, combo)
    checks.append(Check("gradient", err <= (1e-4 if dtype is torch.float32 else 5e-2),
                        f"relative error of the batch gradient against sum(weight x per-sample gradient) / {b}: "
                        f"{err:.2e}"))
    reg_idx = [i for i, r in enumerate(picked) if r.is_reg]
    if reg_idx:
        def grad_at(w_reg: float):
            model.zero_grad()
            w = torch.tensor([w_reg if r.is_reg else 1.0 for r in picked], dtype=torch.float32, device=device)
            _, loss = per_sample(w if opts.weighting is Weighting.CORRECT else torch.ones_like(w))
            loss.backward()
            return [p.grad.detach().clone() for p in params]

        g0, g1, g2 = grad_at(0.0), grad_at(plw), grad_at(2 * plw)
        # (a batch of reg samples alone, as with batch size 1: the train samples' gradient is zero)
        only_train = [sum((per_grads[i][k] for i in range(b) if i not in reg_idx), torch.zeros_like(params[k])) / b
                      for k in range(len(params))]
        zero_err = _rel_err(torch, g0, only_train)
        lin_err = _rel_err(torch, [c2 - c1 for c1, c2 in zip(g1, g2)], [c1 - c0 for c0, c1 in zip(g0, g1)])
        lim = 1e-4 if dtype is torch.float32 else 5e-2
        checks.append(Check("prior weight 0", zero_err <= lim,
                            f"with prior_loss_weight 0 the gradient equals the train samples' alone "
                            f"(relative error {zero_err:.2e})"))
        checks.append(Check("prior weight doubled", lin_err <= lim,
                            f"doubling prior_loss_weight adds the reg contribution once more "
                            f"(relative error {lin_err:.2e})"))
    finite = all(math.isfinite(x) for x in ls) and math.isfinite(got) and all(
        bool(torch.isfinite(g).all()) for g in grads)
    checks.append(Check("finite", finite, "losses and gradients are finite" if finite else "NaN or inf found"))
    changed = max(float((a_ - b_).abs().max()) for a_, b_ in zip(after, before))
    checks.append(Check("step", changed > 0, f"largest parameter change {changed:.3g}"))
    diffusers = None
    train_idx = [i for i in range(b) if i not in reg_idx]
    if reg_idx and train_idx:
        inst = sum(ls[i] for i in train_idx) / len(train_idx)
        prior = sum(ls[i] for i in reg_idx) / len(reg_idx)
        diffusers = inst + plw * prior
        checks.append(Check("diffusers comparison", True,
                            f"diffusers' prior preservation (mean instance + {plw:g} x mean prior) = {diffusers:.6g}; "
                            f"sd-scripts' single weighted mean = {got:.6g}; ratio {got / diffusers:.4f}"
                            if diffusers else "diffusers loss is 0"))
    samples = tuple(Sample(r.record.abs_path, r.is_reg, r.record.caption.text or "", bucket, float(weights[i]), ls[i])
                    for i, r in enumerate(picked))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores)"
    return SmokeResult(name, opts.dtype, samples, got, tuple(checks), note, step_seconds, peak, peak_kind, diffusers,
                       batch_size=batch_size, skipped=skipped, batch_source=_batch_source(opts, batch_size))


def _batch_source(opts: SmokeOptions, batch_size: int) -> str:
    if opts.batch_size is not None:
        return "--batch-size"
    if batch_size != opts.train_batch_size:
        return "the dataset config's batch_size"
    if opts.train_batch_size_given:
        return "--train_batch_size"
    if opts.train_batch_size_in_config:
        return "train_batch_size in the --config_file"
    return "sd-scripts' default, no --train_batch_size"


class _Lazy:
    """Loads-or-skips images only until enough usable ones are found per bucket and role, so a
    large dataset is not decoded in full."""

    def __init__(self, test, per_role: int):
        self.test = test
        self.per_role = per_role
        self.found: dict[tuple, int] = {}

    def __call__(self, r: Registered) -> bool:
        key = (r.bucket, r.is_reg)
        if self.found.get(key, 0) >= self.per_role:
            return True  # enough verified ones ahead of it; it will not be picked first
        ok = self.test(r)
        if ok:
            self.found[key] = self.found.get(key, 0) + 1
        return ok


def _denoiser(nn):
    """A tiny seeded conv net predicting noise from noisy latents and the timestep."""
    import torch

    class Denoiser(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Conv2d(4, 32, 3, padding=1)
            self.mid = nn.Conv2d(32, 32, 3, padding=1)
            self.out = nn.Conv2d(32, 3, 3, padding=1)
            self.act = nn.SiLU()

        def forward(self, x, t):
            tt = (t.float() / 1000.0).view(-1, 1, 1, 1).expand(-1, 1, x.shape[2], x.shape[3])
            h = self.act(self.inp(torch.cat([x, tt], dim=1)))
            h = self.act(self.mid(h)) + h
            return self.out(h)

    return Denoiser()


def _device(torch, spec: str):
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError):
        raise SmokeError(f"--device '{spec}' is not auto, cpu or cuda[:N]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SmokeError("--device cuda asked for, but torch sees no CUDA device here")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise SmokeError(f"--device {spec}: torch sees {torch.cuda.device_count()} CUDA device(s), numbered from 0")
    if dev.type not in ("cpu", "cuda"):
        raise SmokeError(f"--device '{spec}' is not auto, cpu or cuda[:N]")
    return dev


def _peak_memory(torch, device) -> tuple[int, str]:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda allocator peak"
    return peak_rss(), "process peak RSS"


def peak_rss() -> int:
    """This process's peak resident memory in bytes (0 where the OS will not say)."""
    try:
        import resource  # (Unix only)
    except ImportError:
        return _windows_peak_working_set()
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux and the BSDs


def _windows_peak_working_set() -> int:
    """GetProcessMemoryInfo's PeakWorkingSetSize: Windows' peak RSS."""
    try:
        import ctypes
        from ctypes import wintypes

        class Counters(ctypes.Structure):  # PROCESS_MEMORY_COUNTERS
            _fields_ = [("cb", wintypes.DWORD), ("PageFaultCount", wintypes.DWORD)] + [
                (name, ctypes.c_size_t) for name in (
                    "PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage", "QuotaPagedPoolUsage",
                    "QuotaPeakNonPagedPoolUsage", "QuotaNonPagedPoolUsage", "PagefileUsage", "PeakPagefileUsage")]

        counters = Counters()
        counters.cb = ctypes.sizeof(counters)
        kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
        kernel32.GetCurrentProcess.restype = wintypes.HANDLE
        get_info = kernel32.K32GetProcessMemoryInfo
        get_info.argtypes = [wintypes.HANDLE, ctypes.POINTER(Counters), wintypes.DWORD]
        if get_info(kernel32.GetCurrentProcess(), ctypes.byref(counters), counters.cb):
            return int(counters.PeakWorkingSetSize)
    except (ImportError, OSError, AttributeError, ValueError):
        pass
    return 0


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1e-12, abs(a), abs(b))


def _rel_err(torch, xs, ys) -> float:
    num = math.sqrt(sum(float(((x - y).double() ** 2).sum()) for x, y in zip(xs, ys)))
    den = math.sqrt(sum(float((y.double() ** 2).sum()) for y in ys))
    return num / den if den > 0 else num
