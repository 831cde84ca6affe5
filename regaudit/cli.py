"""The command line: parse, call the core, render, exit. Nothing else lives here.

Exit codes: 0 the command ran (findings or not); 1 a check or smoke test failed; 2 usage,
config or I/O error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Optional

import typer
from rich.console import Console, Group
from rich.text import Text
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .captions import normalize_extension
from .config import TrainingArgs
from .errors import RegauditError
from .render import human, json_out
from .rules import REGISTRY, lookup

try:  # typer >= 0.22 vendors click
    from typer._click import exceptions as _cx
    from typer._click.utils import echo as _echo
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as _cx
    from click.utils import echo as _echo

app = typer.Typer(
    name="regaudit",
    help="Audit kohya-ss/sd-scripts DreamBooth/LoRA datasets: see them exactly as sd-scripts will.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False)

TRAIN_OPT = typer.Option(None, "--train", "--train_data_dir", "--train-data-dir", metavar="DIR",
                         help="sd-scripts train_data_dir: a folder of '<repeats>_<class tokens>' subfolders.")
REG_OPT = typer.Option(None, "--reg", "--reg_data_dir", "--reg-data-dir", metavar="DIR",
                       help="sd-scripts reg_data_dir (regularization images).")
CONFIG_OPT = typer.Option(None, "--dataset-config", "--dataset_config", metavar="FILE",
                          help="sd-scripts dataset config (.toml or .json); --train/--reg are then ignored.")
CAPTION_OPT = typer.Option(".caption", "--caption-extension", "--caption_extension", "--caption_extention",
                           metavar="EXT", help="Caption file extension, as sd-scripts' --caption_extension.")
JSON_OPT = typer.Option(False, "--json", help="Write the result as JSON on stdout.")
JOBS_OPT = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: all cores).")
PROGRESS_OPT = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr (terminal only).")


@contextmanager
def _progress(enabled: bool, label: str):
    if not (enabled and stderr.is_terminal):
        yield None
        return
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _resolve_roots(folder: Optional[str], train: Optional[str]) -> Optional[str]:
    if folder is not None and train is not None:
        raise RegauditError("give the train folder either as DIR or as --train, not both")
    return folder if folder is not None else train


@app.command()
def scan(
    folder: Optional[str] = typer.Argument(None, metavar="[DIR]", help="A train_data_dir-style root."),
    train: Optional[str] = TRAIN_OPT,
    reg: Optional[str] = REG_OPT,
    dataset_config: Optional[str] = CONFIG_OPT,
    caption_extension: str = CAPTION_OPT,
    deep: bool = typer.Option(False, "--deep", help="Also decode every image to catch truncated files."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Show what sd-scripts will see: subsets, images, captions, and everything it ignores or chokes on."""
    from .scan import load_specs, scan as run_scan

    train = _resolve_roots(folder, train)
    args = TrainingArgs(caption_extension=caption_extension)
    specs = load_specs(train, reg, dataset_config, args)
    sources = [p for p in (train, reg, dataset_config) if p]
    with _progress(progress, "scanning images") as cb:
        result = run_scan(specs, deep=deep, jobs=jobs, progress=cb,
                          caption_extension=normalize_extension(caption_extension), sources=sources)
    if as_json:
        sys.stdout.write(json_out.dumps(json_out.scan_document(result)) + "\n")
    else:
        stdout.print(human.scan_view(result))


def _pick(cli_value, cfg: dict, key: str, default):
    """Command line first, then the --config_file, then sd-scripts' default."""
    if cli_value is not None:
        return cli_value
    return cfg.get(key, default)


def _training_inputs(ctx: typer.Context, train, reg, dataset_config, config_file, caption_extension, resolution,
                     enable_bucket, min_bucket_reso, max_bucket_reso, bucket_reso_steps, bucket_no_upscale,
                     train_batch_size, gradient_accumulation_steps, max_train_epochs, max_train_steps,
                     prior_loss_weight, num_processes, cache_latents, random_crop, trainer, overrides=None):
    """Merge command line, ``overrides`` (a policy's training section) and --config_file into dataset
    specs and balance options, in that order of precedence."""
    from .balance import BalanceOptions, Trainer
    from .scan import load_specs
    from .training_args import parse_resolution, read_training_config

    cfg: dict = {}
    if config_file is not None:
        cf = read_training_config(config_file)
        cfg = cf.values
        if cf.ignored:
            stderr.print(f"regaudit: note: {len(cf.ignored)} keys of {config_file} do not change the dataset and "
                         f"are ignored", markup=False)
    cfg = {**cfg, **(overrides or {})}
    if trainer is None:
        trainer = cfg.get("trainer", "train_network")
    if ctx.args:
        stderr.print(f"regaudit: note: ignoring options that do not change the dataset: {' '.join(ctx.args)}",
                     markup=False, soft_wrap=True)
    # the command line wins over the file; in each, the misspelt caption_extention wins (as in sd-scripts)
    ext = caption_extension if caption_extension is not None else cfg.get(
        "caption_extention", cfg.get("caption_extension", ".caption"))
    args = TrainingArgs(
        caption_extension=normalize_extension(str(ext)),
        dataset_repeats=int(cfg.get("dataset_repeats", 1)),
        resolution=parse_resolution(_pick(resolution, cfg, "resolution", None)),
        train_batch_size=int(_pick(train_batch_size, cfg, "train_batch_size", 1)),
        enable_bucket=bool(enable_bucket or cfg.get("enable_bucket", False)),
        min_bucket_reso=int(_pick(min_bucket_reso, cfg, "min_bucket_reso", 256)),
        max_bucket_reso=int(_pick(max_bucket_reso, cfg, "max_bucket_reso", 1024)),
        bucket_reso_steps=int(_pick(bucket_reso_steps, cfg, "bucket_reso_steps", 64)),
        bucket_no_upscale=bool(bucket_no_upscale or cfg.get("bucket_no_upscale", False)),
    )
    for name, value in (("--train_batch_size", args.train_batch_size),
                        ("--gradient_accumulation_steps", _pick(gradient_accumulation_steps, cfg,
                                                                "gradient_accumulation_steps", 1)),
                        ("--num_processes", _pick(num_processes, cfg, "num_processes", 1))):
        if int(value) < 1:
            raise RegauditError(f"{name} must be at least 1, got {value}")
    opts = BalanceOptions(
        trainer=Trainer(trainer),
        gradient_accumulation_steps=int(_pick(gradient_accumulation_steps, cfg, "gradient_accumulation_steps", 1)),
        max_train_epochs=_pick(max_train_epochs, cfg, "max_train_epochs", None),
        max_train_steps=int(_pick(max_train_steps, cfg, "max_train_steps", 1600)),
        num_processes=int(_pick(num_processes, cfg, "num_processes", 1)),
        prior_loss_weight=float(_pick(prior_loss_weight, cfg, "prior_loss_weight", 1.0)),
        cache_latents=bool(cache_latents or cfg.get("cache_latents", False)),
        random_crop=bool(random_crop or cfg.get("random_crop", False)),
    )
    train = _pick(train, cfg, "train_data_dir", None)
    reg = _pick(reg, cfg, "reg_data_dir", None)
    dataset_config = _pick(dataset_config, cfg, "dataset_config", None)
    if dataset_config is not None and (train or reg):
        stderr.print("regaudit: note: --dataset_config is given, so --train_data_dir/--reg_data_dir are ignored "
                     "(as sd-scripts does)", markup=False)
    specs = load_specs(train, reg, dataset_config, args)
    sources = [p for p in (dataset_config,) if p] or [p for p in (train, reg) if p]
    return specs, args, opts, sources


def _check_trainer(trainer: Optional[str]) -> None:
    from .balance import Trainer

    if trainer is not None and trainer not in {t.value for t in Trainer}:
        raise RegauditError(f"--trainer '{trainer}' is not one of: {', '.join(t.value for t in Trainer)}")


_EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}
CONFIG_FILE_OPT = typer.Option(None, "--config-file", "--config_file", metavar="FILE",
                               help="sd-scripts training-arguments TOML; its dataset keys are read.")
RES_OPT = typer.Option(None, "--resolution", metavar="N|W,H", help="Training resolution (required by sd-scripts).")
BUCKET_OPT = typer.Option(False, "--enable_bucket", "--enable-bucket", help="Aspect-ratio bucketing.")
MINB_OPT = typer.Option(None, "--min_bucket_reso", "--min-bucket-reso", help="Default 256.")
MAXB_OPT = typer.Option(None, "--max_bucket_reso", "--max-bucket-reso", help="Default 1024.")
STEPS_OPT = typer.Option(None, "--bucket_reso_steps", "--bucket-reso-steps", help="Default 64.")
NOUP_OPT = typer.Option(False, "--bucket_no_upscale", "--bucket-no-upscale", help="Buckets per image, no upscaling.")
BATCH_OPT = typer.Option(None, "--train_batch_size", "--train-batch-size", "--batch-size", help="Default 1.")
GA_OPT = typer.Option(None, "--gradient_accumulation_steps", "--gradient-accumulation-steps", help="Default 1.")
EPOCHS_OPT = typer.Option(None, "--max_train_epochs", "--max-train-epochs", help="Epochs (overrides steps).")
MAXSTEPS_OPT = typer.Option(None, "--max_train_steps", "--max-train-steps", help="Default 1600.")
PLW_OPT = typer.Option(None, "--prior_loss_weight", "--prior-loss-weight", help="Default 1.0.")
NPROC_OPT = typer.Option(None, "--num_processes", "--num-processes", help="GPUs/processes (accelerate); default 1.")
CACHE_OPT = typer.Option(False, "--cache_latents", "--cache-latents", help="Latents cached (images are resized).")
CROP_OPT = typer.Option(False, "--random_crop", "--random-crop", help="random_crop is on for the subsets.")
TRAINER_OPT = typer.Option(None, "--trainer",
                           help="sd-scripts script (sets the bucket_reso_steps multiple): train_network, train_db, "
                                "sdxl_train_network, sdxl_train, sd3_train_network, flux_train_network, flux_train, "
                                "lumina_train, lumina_train_network, sd3_train.")


@app.command(context_settings=_EXTRA)
def balance(
    ctx: typer.Context,
    train: Optional[str] = TRAIN_OPT,
    reg: Optional[str] = REG_OPT,
    dataset_config: Optional[str] = CONFIG_OPT,
    config_file: Optional[str] = CONFIG_FILE_OPT,
    caption_extension: Optional[str] = typer.Option(None, "--caption-extension", "--caption_extension",
                                                    "--caption_extention", metavar="EXT",
                                                    help="Caption file extension (default .caption)."),
    resolution: Optional[str] = RES_OPT,
    enable_bucket: bool = BUCKET_OPT,
    min_bucket_reso: Optional[int] = MINB_OPT,
    max_bucket_reso: Optional[int] = MAXB_OPT,
    bucket_reso_steps: Optional[int] = STEPS_OPT,
    bucket_no_upscale: bool = NOUP_OPT,
    train_batch_size: Optional[int] = BATCH_OPT,
    gradient_accumulation_steps: Optional[int] = GA_OPT,
    max_train_epochs: Optional[int] = EPOCHS_OPT,
    max_train_steps: Optional[int] = MAXSTEPS_OPT,
    prior_loss_weight: Optional[float] = PLW_OPT,
    num_processes: Optional[int] = NPROC_OPT,
    cache_latents: bool = CACHE_OPT,
    random_crop: bool = CROP_OPT,
    trainer: Optional[str] = TRAINER_OPT,
    suggest: bool = typer.Option(False, "--suggest", help="Propose folder repeats / image counts that fix the balance."),
    reg_share: Optional[float] = typer.Option(None, "--reg-share", help="With --suggest: target share of the loss "
                                                                         "weight from reg images (0..1)."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Simulate sd-scripts' registration and reg balancing: repeats, unused reg images, buckets, batches, steps.

    Unknown sd-scripts options are accepted and ignored, so a whole training command can be pasted."""
    from .balance import plan
    from .scan import scan as run_scan

    _check_trainer(trainer)
    specs, args, opts, sources = _training_inputs(
        ctx, train, reg, dataset_config, config_file, caption_extension, resolution, enable_bucket,
        min_bucket_reso, max_bucket_reso, bucket_reso_steps, bucket_no_upscale, train_batch_size,
        gradient_accumulation_steps, max_train_epochs, max_train_steps, prior_loss_weight, num_processes,
        cache_latents, random_crop, trainer)
    with _progress(progress, "reading image headers") as cb:
        result = run_scan(specs, jobs=jobs, progress=cb, caption_extension=args.caption_extension,
                          sources=sources)
    p = plan(result, opts)
    suggestions = []
    if suggest:
        from .suggest import suggest as make_suggestions

        suggestions = make_suggestions(p, reg_share)
    if as_json:
        doc = json_out.balance_document(p)
        if suggest:
            doc["suggestions"] = [s.to_json() for s in suggestions]
        sys.stdout.write(json_out.dumps(doc) + "\n")
    else:
        stdout.print(human.balance_view(p))
        if suggest:
            stdout.print(human.suggestions_view(suggestions))


HASH_OPT = typer.Option("phash", "--hash", help="Perceptual hash: phash, dhash, whash or ahash.")
DIST_OPT = typer.Option(None, "--max-distance", "--max_distance", min=0, max=32,
                        help="Largest Hamming distance (of 64 bits) that counts as a near duplicate "
                             "(default 8, measured in benchmarks/dupes.py).")
FLIP_OPT = typer.Option(False, "--flip-aug", "--flip_aug", help="Mirror images count as duplicates (sd-scripts flip_aug).")
CACHE_PATH_OPT = typer.Option(None, "--cache", metavar="PATH", help="Hash cache file (default: user cache dir).")
NO_CACHE_OPT = typer.Option(False, "--no-cache", help="Neither read nor write the hash cache.")


def _dupes_options(hash_kind: str, max_distance: Optional[int], flip_aug: bool, cache: Optional[str],
                   no_cache: bool, jobs: Optional[int], roots):
    from pathlib import Path

    from .dedupe import DEFAULT_MAX_DISTANCE, DupesOptions
    from .hashcache import check_outside, default_path
    from .hashing import HashKind

    if hash_kind not in {h.value for h in HashKind}:
        raise RegauditError(f"--hash '{hash_kind}' is not one of: {', '.join(h.value for h in HashKind)}")
    cache_path = None if no_cache else Path(cache) if cache else default_path()
    if cache_path is not None:
        check_outside(cache_path, roots)
    return DupesOptions(HashKind(hash_kind), DEFAULT_MAX_DISTANCE if max_distance is None else max_distance,
                        flip_aug, cache_path, jobs)


@app.command()
def dupes(
    folder: Optional[str] = typer.Argument(None, metavar="[DIR]", help="A train_data_dir-style root."),
    train: Optional[str] = TRAIN_OPT,
    reg: Optional[str] = REG_OPT,
    dataset_config: Optional[str] = CONFIG_OPT,
    caption_extension: str = CAPTION_OPT,
    hash_kind: str = HASH_OPT,
    max_distance: Optional[int] = DIST_OPT,
    flip_aug: bool = FLIP_OPT,
    cache: Optional[str] = CACHE_PATH_OPT,
    no_cache: bool = NO_CACHE_OPT,
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Find exact, near and mirrored duplicates, and train/reg leakage, with perceptual hashes. Read-only."""
    from .dedupe import find_dupes
    from .scan import load_specs, scan as run_scan

    train = _resolve_roots(folder, train)
    specs = load_specs(train, reg, dataset_config, TrainingArgs(caption_extension=caption_extension))
    roots = [p for p in (train, reg) if p] + [s.image_dir for spec in specs for s in spec.subsets]
    opts = _dupes_options(hash_kind, max_distance, flip_aug, cache, no_cache, jobs, roots)
    result = run_scan(specs, jobs=jobs, caption_extension=normalize_extension(caption_extension),
                      sources=[p for p in (train, reg, dataset_config) if p], listing_only=True)
    with _progress(progress, "hashing images") as cb:
        found = find_dupes(result, opts, cb)
    if as_json:
        sys.stdout.write(json_out.dumps(json_out.dupes_document(found)) + "\n")
    else:
        stdout.print(human.dupes_view(found))


@app.command(context_settings=_EXTRA)
def check(
    ctx: typer.Context,
    folder: Optional[str] = typer.Argument(None, metavar="[DIR]", help="A train_data_dir-style root."),
    train: Optional[str] = TRAIN_OPT,
    reg: Optional[str] = REG_OPT,
    dataset_config: Optional[str] = CONFIG_OPT,
    config_file: Optional[str] = CONFIG_FILE_OPT,
    policy_file: Optional[str] = typer.Option(None, "--policy", metavar="FILE",
                                              help="YAML policy (default: ./regaudit.yaml, else built-in)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="error | warning | info | never (default error)."),
    caption_extension: Optional[str] = typer.Option(None, "--caption-extension", "--caption_extension",
                                                    "--caption_extention", metavar="EXT",
                                                    help="Caption file extension (default .caption)."),
    resolution: Optional[str] = RES_OPT,
    enable_bucket: bool = BUCKET_OPT,
    min_bucket_reso: Optional[int] = MINB_OPT,
    max_bucket_reso: Optional[int] = MAXB_OPT,
    bucket_reso_steps: Optional[int] = STEPS_OPT,
    bucket_no_upscale: bool = NOUP_OPT,
    train_batch_size: Optional[int] = BATCH_OPT,
    gradient_accumulation_steps: Optional[int] = GA_OPT,
    max_train_epochs: Optional[int] = EPOCHS_OPT,
    max_train_steps: Optional[int] = MAXSTEPS_OPT,
    prior_loss_weight: Optional[float] = PLW_OPT,
    num_processes: Optional[int] = NPROC_OPT,
    cache_latents: bool = CACHE_OPT,
    random_crop: bool = CROP_OPT,
    trainer: Optional[str] = TRAINER_OPT,
    with_dupes: bool = typer.Option(False, "--dupes", help="Also run duplicate and leakage detection."),
    deep: bool = typer.Option(False, "--deep", help="Also decode every image to catch truncated files."),
    cache: Optional[str] = CACHE_PATH_OPT,
    no_cache: bool = NO_CACHE_OPT,
    output_format: Optional[str] = typer.Option(None, "--format",
                                                help="human | json | github | junit (github when GITHUB_ACTIONS=true)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE",
                                         help="Write the report to FILE instead of stdout."),
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> int:
    """Pre-flight gate for CI: run the audits, apply the policy, exit 1 when a finding reaches fail-on."""
    import os as _os

    from .balance import plan
    from .dedupe import find_dupes
    from .policy import FailOn, load
    from .scan import scan as run_scan

    pol = load(policy_file)
    if fail_on is not None and fail_on not in [f.value for f in FailOn]:
        raise RegauditError(f"--fail-on '{fail_on}' is not one of error, warning, info, never")
    gate = FailOn(fail_on) if fail_on else pol.fail_on
    fmt = output_format or ("github" if _os.environ.get("GITHUB_ACTIONS") == "true" else "human")
    if fmt not in ("human", "json", "github", "junit"):
        raise RegauditError(f"--format '{fmt}' is not one of human, json, github, junit")
    _check_trainer(trainer)
    train = _resolve_roots(folder, train)
    if caption_extension is None:
        caption_extension = pol.caption_extension
    specs, args, opts, sources = _training_inputs(
        ctx, train, reg, dataset_config, config_file, caption_extension, resolution, enable_bucket,
        min_bucket_reso, max_bucket_reso, bucket_reso_steps, bucket_no_upscale, train_batch_size,
        gradient_accumulation_steps, max_train_epochs, max_train_steps, prior_loss_weight, num_processes,
        cache_latents, random_crop, trainer, overrides=pol.training)
    ran = ["scan"]
    with _progress(progress, "reading image headers") as cb:
        result = run_scan(specs, deep=deep or pol.deep, jobs=jobs, progress=cb,
                          caption_extension=args.caption_extension, sources=sources)
    findings = list(result.findings)
    training_given = bool(pol.training) or config_file is not None or any(
        v not in (None, False) for v in (resolution, enable_bucket, min_bucket_reso, max_bucket_reso,
                                         bucket_reso_steps, bucket_no_upscale, train_batch_size,
                                         gradient_accumulation_steps, max_train_epochs, max_train_steps,
                                         prior_loss_weight, num_processes, cache_latents, random_crop))
    balance_plan = None
    if training_given or any(d.params.resolution for d in result.datasets):
        balance_plan = plan(result, opts)
        findings = list(balance_plan.findings)
        ran.append("balance")
    if with_dupes or pol.dupes:
        d = pol.dupes_options
        roots = [p for p in (train, reg) if p] + [s.image_dir for spec in specs for s in spec.subsets]
        dopts = _dupes_options(d.get("hash", "phash"), d.get("max-distance"), bool(d.get("flip-aug", False)),
                               cache, no_cache, jobs, roots)
        with _progress(progress, "hashing images") as cb:
            found = find_dupes(result, dopts, cb)
        known = {(f.code, f.path) for f in findings}
        # an image the scan already reported as broken is not reported again by the hashing
        findings += [f for f in found.findings if f.code not in ("RA041", "RA043") or (f.code, f.path) not in known]
        ran.append("dupes")
    findings = json_out.sort_findings(pol.apply(findings))
    failing = [f for f in findings if gate.fails(f.severity)]
    report = _render_check(fmt, findings, failing, gate, pol, ran, balance_plan)
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                if isinstance(report, str):
                    fh.write(report)
                else:
                    Console(file=fh, width=100, highlight=False).print(report)
        except OSError as exc:
            raise RegauditError(f"{output}: cannot write the report: {exc.strerror or exc}") from None
    elif isinstance(report, str):
        sys.stdout.write(report)
    else:
        stdout.print(report)
    return 1 if failing else 0


def _render_check(fmt, findings, failing, gate, pol, ran, balance_plan):
    from .render import ci

    counts = {"error": 0, "warning": 0, "info": 0}
    for f in findings:
        counts[f.severity.value] += 1
    if fmt == "github":
        return ci.github(findings)
    if fmt == "junit":
        return ci.junit(findings, {id(f) for f in failing})
    if fmt == "json":
        doc = {"schema_version": 1, "command": "check", "passed": not failing, "fail_on": gate.value,
               "policy": pol.source, "ran": ran,
               "summary": {"errors": counts["error"], "warnings": counts["warning"], "info": counts["info"],
                           "failing": len(failing)},
               "balance": None if balance_plan is None else {
                   "would_crash": balance_plan.would_crash, "max_train_steps": balance_plan.max_train_steps,
                   "batches_per_epoch": balance_plan.batches_per_epoch, "epochs": balance_plan.epochs},
               "findings": [f.to_json() for f in json_out.sort_findings(findings)]}
        return json_out.dumps(doc) + "\n"
    parts = [Text(f"regaudit check ({', '.join(ran)}; policy: {pol.source}; fail-on {gate.value}) — ")
             + human.summary_line(counts)]
    parts += list(human.findings_block(findings))
    if failing:
        parts.append(Text(f"\nFAILED: {len(failing)} finding(s) at or above '{gate.value}'", style="bold red"))
    else:
        parts.append(Text(f"\nPASSED: no finding at or above '{gate.value}'", style="bold green"))
    return Group(*parts)


@app.command(context_settings=_EXTRA)
def smoke(
    ctx: typer.Context,
    train: Optional[str] = TRAIN_OPT,
    reg: Optional[str] = REG_OPT,
    dataset_config: Optional[str] = CONFIG_OPT,
    config_file: Optional[str] = CONFIG_FILE_OPT,
    caption_extension: Optional[str] = typer.Option(None, "--caption-extension", "--caption_extension",
                                                    "--caption_extention", metavar="EXT",
                                                    help="Caption file extension (default .caption)."),
    resolution: Optional[str] = typer.Option(None, "--resolution", metavar="N|W,H",
                                             help="Training resolution (default 512 for the smoke test)."),
    enable_bucket: bool = BUCKET_OPT,
    min_bucket_reso: Optional[int] = MINB_OPT,
    max_bucket_reso: Optional[int] = MAXB_OPT,
    bucket_reso_steps: Optional[int] = STEPS_OPT,
    bucket_no_upscale: bool = NOUP_OPT,
    prior_loss_weight: Optional[float] = PLW_OPT,
    cache_latents: bool = CACHE_OPT,
    random_crop: bool = CROP_OPT,
    trainer: Optional[str] = TRAINER_OPT,
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Samples in the smoke batch."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:N] (auto: CUDA when available)."),
    dtype: str = typer.Option("fp32", "--dtype", help="fp32 | bf16 | fp16 (autocast)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the model, noise and timesteps."),
    loss_type: str = typer.Option("l2", "--loss-type", "--loss_type", help="l2 | l1 | huber | smooth_l1."),
    huber_c: float = typer.Option(0.1, "--huber-c", "--huber_c", help="c of the huber/smooth_l1 losses."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
) -> int:
    """One real training step of the prior-loss-weighted loss on a real batch, with checks (needs torch)."""
    from .balance import plan
    from .scan import scan as run_scan
    from .smoke import LossType, SmokeError, SmokeOptions, run

    _check_trainer(trainer)
    if dtype not in ("fp32", "bf16", "fp16"):
        raise RegauditError(f"--dtype '{dtype}' is not one of fp32, bf16, fp16")
    if loss_type not in {t.value for t in LossType}:
        raise RegauditError(f"--loss-type '{loss_type}' is not one of {', '.join(t.value for t in LossType)}")
    specs, args, opts, sources = _training_inputs(
        ctx, train, reg, dataset_config, config_file, caption_extension, resolution, enable_bucket,
        min_bucket_reso, max_bucket_reso, bucket_reso_steps, bucket_no_upscale, batch_size, None, None, None,
        prior_loss_weight, None, cache_latents, random_crop, trainer)
    if any(spec.params.resolution is None for spec in specs):
        from dataclasses import replace

        stderr.print("regaudit: note: no --resolution given; the smoke test uses 512", markup=False)
        for spec in specs:
            if spec.params.resolution is None:
                spec.params = replace(spec.params, resolution=(512, 512))
    result = run_scan(specs, jobs=jobs, caption_extension=args.caption_extension, sources=sources)
    p = plan(result, opts)
    try:
        out = run(p, SmokeOptions(batch_size, device, dtype, seed, LossType(loss_type), huber_c,
                                  opts.prior_loss_weight))
    except SmokeError as exc:
        raise RegauditError(str(exc)) from None
    if as_json:
        sys.stdout.write(json_out.dumps(json_out.smoke_document(out)) + "\n")
    else:
        stdout.print(human.smoke_view(out))
    return 0 if out.passed else 1


@app.command(context_settings=_EXTRA)
def report(
    ctx: typer.Context,
    train: Optional[str] = TRAIN_OPT,
    reg: Optional[str] = REG_OPT,
    dataset_config: Optional[str] = CONFIG_OPT,
    config_file: Optional[str] = CONFIG_FILE_OPT,
    caption_extension: Optional[str] = typer.Option(None, "--caption-extension", "--caption_extension",
                                                    "--caption_extention", metavar="EXT",
                                                    help="Caption file extension (default .caption)."),
    resolution: Optional[str] = RES_OPT,
    enable_bucket: bool = BUCKET_OPT,
    min_bucket_reso: Optional[int] = MINB_OPT,
    max_bucket_reso: Optional[int] = MAXB_OPT,
    bucket_reso_steps: Optional[int] = STEPS_OPT,
    bucket_no_upscale: bool = NOUP_OPT,
    train_batch_size: Optional[int] = BATCH_OPT,
    gradient_accumulation_steps: Optional[int] = GA_OPT,
    max_train_epochs: Optional[int] = EPOCHS_OPT,
    max_train_steps: Optional[int] = MAXSTEPS_OPT,
    prior_loss_weight: Optional[float] = PLW_OPT,
    num_processes: Optional[int] = NPROC_OPT,
    cache_latents: bool = CACHE_OPT,
    random_crop: bool = CROP_OPT,
    trainer: Optional[str] = TRAINER_OPT,
    with_dupes: bool = typer.Option(True, "--dupes/--no-dupes", help="Include duplicate detection (default on)."),
    flip_aug: bool = FLIP_OPT,
    cache: Optional[str] = CACHE_PATH_OPT,
    no_cache: bool = NO_CACHE_OPT,
    output: str = typer.Option("report.html", "--output", "-o", metavar="FILE", help="Where to write the page."),
    thumb_size: int = typer.Option(128, "--thumb-size", min=32, max=512, help="Thumbnail size in pixels."),
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Write one self-contained HTML page with thumbnails and charts of scan, balance and dupes."""
    import shlex

    from .balance import plan
    from .dedupe import find_dupes
    from .render import html as html_out
    from .report import ReportData, make_thumbnails, wanted_thumbnails
    from .scan import scan as run_scan

    _check_trainer(trainer)
    specs, args, opts, sources = _training_inputs(
        ctx, train, reg, dataset_config, config_file, caption_extension, resolution, enable_bucket,
        min_bucket_reso, max_bucket_reso, bucket_reso_steps, bucket_no_upscale, train_batch_size,
        gradient_accumulation_steps, max_train_epochs, max_train_steps, prior_loss_weight, num_processes,
        cache_latents, random_crop, trainer)
    with _progress(progress, "reading image headers") as cb:
        result = run_scan(specs, jobs=jobs, progress=cb, caption_extension=args.caption_extension, sources=sources)
    p = plan(result, opts)
    findings = list(p.findings)
    found = None
    if with_dupes:
        roots = [x for x in (train, reg) if x] + [s.image_dir for spec in specs for s in spec.subsets]
        dopts = _dupes_options("phash", None, flip_aug, cache, no_cache, jobs, roots)
        with _progress(progress, "hashing images") as cb:
            found = find_dupes(result, dopts, cb)
        known = {(f.code, f.path) for f in findings}
        findings += [f for f in found.findings if (f.code, f.path) not in known]
    findings = json_out.sort_findings(findings)
    data = ReportData(result, p, found, tuple(findings), "regaudit " + shlex.join(_ARGV))
    with _progress(progress, "making thumbnails") as cb:
        thumbs = make_thumbnails(wanted_thumbnails(result, p, found, data.findings), thumb_size, jobs, cb)
    page = html_out.render(ReportData(result, p, found, data.findings, data.command, thumbs))
    try:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(page)
    except OSError as exc:
        raise RegauditError(f"{output}: cannot write the report: {exc.strerror or exc}") from None
    stderr.print(f"regaudit: wrote {output} ({len(page.encode()) / 1024:.0f} KiB, {len(thumbs)} thumbnails)",
                 markup=False)


@app.command()
def rules(code: Optional[str] = typer.Argument(None, help="A code (RA001) or name to explain."),
          as_json: bool = JSON_OPT) -> None:
    """List every finding code, or explain one."""
    if code is None:
        if as_json:
            doc = [{"code": r.code, "name": r.name, "severity": r.severity.value, "summary": r.summary}
                   for r in REGISTRY.values()]
            sys.stdout.write(json_out.dumps(doc) + "\n")
            return
        for r in REGISTRY.values():
            stdout.print(f"{r.code}  {r.severity.value:<7}  {r.name:<28} {r.summary}")
        return
    r = lookup(code)
    if r is None:
        raise RegauditError(f"unknown rule '{code}'; 'regaudit rules' lists them all")
    if as_json:
        sys.stdout.write(json_out.dumps({"code": r.code, "name": r.name, "severity": r.severity.value,
                                         "summary": r.summary, "why": r.why, "hint": r.hint}) + "\n")
        return
    stdout.print(f"{r.code} {r.name} (default severity: {r.severity.value})\n\nWhat it checks: {r.summary}\n\n"
                 f"Why it matters: {r.why}\n\nHow to fix: {r.hint}")


_ARGV: list[str] = []


def _extention_last(argv: list[str]) -> list[str]:
    """sd-scripts lets the misspelt --caption_extention override --caption_extension; both are one
    option here, and the last occurrence wins, so move the misspelt one to the end."""
    out, tail, k = [], [], 0
    while k < len(argv):
        arg = argv[k]
        if arg == "--caption_extention" and k + 1 < len(argv):
            tail += argv[k:k + 2]
            k += 2
            continue
        if arg.startswith("--caption_extention="):
            tail.append(arg)
        else:
            out.append(arg)
        k += 1
    return out + tail


def main(argv: Optional[list[str]] = None) -> int:
    _ARGV[:] = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):  # file names need not be valid UTF-8; never crash printing them
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=_extention_last(list(_ARGV)), prog_name="regaudit", standalone_mode=False)
    except _cx.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # click >= 8.2 raises this for a bare command
            _echo(exc.ctx.get_help() if exc.ctx else str(exc))
            return 0
        where = f" (see 'regaudit {exc.ctx.info_name} --help')" if exc.ctx and exc.ctx.info_name != "regaudit" else ""
        stderr.print(f"regaudit: error: {exc.format_message()}{where}", markup=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        stderr.print("regaudit: aborted", markup=False)
        return 130
    except RegauditError as exc:
        stderr.print(f"regaudit: error: {exc}", markup=False, soft_wrap=True)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        stderr.print("regaudit: interrupted", markup=False)
        return 130
    except Exception as exc:  # never a traceback for a user; REGAUDIT_DEBUG=1 shows it
        import os

        if os.environ.get("REGAUDIT_DEBUG"):
            raise
        stderr.print(f"regaudit: internal error: {type(exc).__name__}: {exc} (set REGAUDIT_DEBUG=1 for details, "
                     f"and please report it)", markup=False, soft_wrap=True)
        return 2
    return rv if isinstance(rv, int) else 0
