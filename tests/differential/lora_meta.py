"""The ``ss_*`` metadata a LoRA trainer would save for a tree, from the real sd-scripts dataset build.

Run with the oracle's interpreter (it imports sd-scripts, which the project's tests never need):

    SD_SCRIPTS=/tmp/sds /tmp/oracle-venv/bin/python tests/differential/lora_meta.py OUT.json \\
        [--oracle_trainer NAME] -- [the trainer's options: --train_data_dir T --resolution 512 ...]

It runs the oracle (../shared/oracle/sdscripts_oracle.py) through the trainer's real ``train()`` up
to its first model load, keeps the dataset group and the parsed ``args`` the trainer built, and
writes the metadata dict NetworkTrainer.train() makes from them (train_network.py, ``metadata =
{...}`` and the dataset part after it): every key as ``str(value)``, the nested parts as
``json.dumps`` text. What needs a loaded model or the optimizer (the model version of SD 1/2
aside, the optimizer's name, the text encoder's learning rate) and what changes per run (session
id, start time, commit hash) are fixed placeholders. OUT.json holds ``{"metadata": {...},
"oracle": <the oracle's document>}``; tests/sdscripts/test_lora_metadata.py pins the figures.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ORACLE_DIR = os.environ.get("ORACLE_DIR", os.path.join(os.path.dirname(REPO), "shared", "oracle"))
if not os.path.isdir(ORACLE_DIR):
    ORACLE_DIR = "/work/shared/oracle"

MODEL_VERSION = {"sdxl_train_network": "sdxl_base_v1-0", "flux_train_network": "flux1",
                 "lumina_train_network": "lumina2"}  # each trainer's load_target_model


def _load_oracle():
    spec = importlib.util.spec_from_file_location("sdscripts_oracle", os.path.join(ORACLE_DIR, "sdscripts_oracle.py"))
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)  # type: ignore[union-attr]
    return oracle


def dataset_metadata(args, group, use_user_config: bool) -> dict:
    """The dataset part of the metadata, from the built group, in the two forms train_network.py writes."""
    from library.train_util import DreamBoothDataset

    out: dict = {}
    if use_user_config:
        datasets, tags, dirs = [], {}, {}
        for ds in group.datasets:
            dreambooth = isinstance(ds, DreamBoothDataset)
            d = {"is_dreambooth": dreambooth, "batch_size_per_device": ds.batch_size,
                 "num_train_images": ds.num_train_images, "num_reg_images": ds.num_reg_images,
                 "resolution": (ds.width, ds.height), "enable_bucket": bool(ds.enable_bucket),
                 "min_bucket_reso": ds.min_bucket_reso, "max_bucket_reso": ds.max_bucket_reso,
                 "tag_frequency": ds.tag_frequency, "bucket_info": ds.bucket_info,
                 "resize_interpolation": ds.resize_interpolation}
            subsets = []
            for s in ds.subsets:
                sm = {"img_count": s.img_count, "num_repeats": s.num_repeats, "color_aug": bool(s.color_aug),
                      "flip_aug": bool(s.flip_aug), "random_crop": bool(s.random_crop),
                      "shuffle_caption": bool(s.shuffle_caption), "keep_tokens": s.keep_tokens,
                      "keep_tokens_separator": s.keep_tokens_separator, "secondary_separator": s.secondary_separator,
                      "enable_wildcard": bool(s.enable_wildcard), "caption_prefix": s.caption_prefix,
                      "caption_suffix": s.caption_suffix, "resize_interpolation": s.resize_interpolation}
                merged = None
                if s.image_dir:
                    sm["image_dir"] = merged = os.path.basename(s.image_dir)
                if dreambooth:
                    sm["class_tokens"] = s.class_tokens
                    sm["is_reg"] = s.is_reg
                    if s.is_reg:
                        merged = None
                else:
                    sm["metadata_file"] = merged = os.path.basename(s.metadata_file)
                subsets.append(sm)
                if merged is not None:
                    name, k = merged, 2
                    while name in dirs:
                        name = f"{merged} ({k})"
                        k += 1
                    dirs[name] = {"n_repeats": s.num_repeats, "img_count": s.img_count}
            d["subsets"] = subsets
            datasets.append(d)
            for folder, freq in ds.tag_frequency.items():
                tags.setdefault(folder, freq)
        out["ss_datasets"] = json.dumps(datasets)
        out["ss_tag_frequency"] = json.dumps(tags)
        out["ss_dataset_dirs"] = json.dumps(dirs)
        return out
    ds = group.datasets[0]
    dirs, reg_dirs = {}, {}
    for s in ds.subsets:
        (reg_dirs if s.is_reg else dirs)[os.path.basename(s.image_dir)] = {"n_repeats": s.num_repeats,
                                                                         "img_count": s.img_count}
    total = args.train_batch_size * 1 * args.gradient_accumulation_steps  # one process
    out.update({"ss_batch_size_per_device": args.train_batch_size, "ss_total_batch_size": total,
                "ss_resolution": args.resolution, "ss_color_aug": bool(args.color_aug),
                "ss_flip_aug": bool(args.flip_aug), "ss_random_crop": bool(args.random_crop),
                "ss_shuffle_caption": bool(args.shuffle_caption), "ss_enable_bucket": bool(ds.enable_bucket),
                "ss_bucket_no_upscale": bool(ds.bucket_no_upscale), "ss_min_bucket_reso": ds.min_bucket_reso,
                "ss_max_bucket_reso": ds.max_bucket_reso, "ss_keep_tokens": args.keep_tokens,
                "ss_dataset_dirs": json.dumps(dirs), "ss_reg_dataset_dirs": json.dumps(reg_dirs),
                "ss_tag_frequency": json.dumps(ds.tag_frequency), "ss_bucket_info": json.dumps(ds.bucket_info)})
    return out


def metadata(trainer: str, args, group, doc: dict) -> dict[str, str]:
    version = MODEL_VERSION.get(trainer) or ("sd_v2" if args.v2 else "sd_v1") + ("_v" if args.v_parameterization else "")
    meta = {
        "ss_session_id": 1234, "ss_training_started_at": 1700000000.0, "ss_output_name": args.output_name,
        "ss_learning_rate": args.learning_rate, "ss_text_encoder_lr": args.text_encoder_lr, "ss_unet_lr": args.unet_lr,
        "ss_num_train_images": group.num_train_images, "ss_num_validation_images": 0,
        "ss_num_reg_images": group.num_reg_images, "ss_num_batches_per_epoch": doc["num_batches_per_epoch"],
        "ss_num_epochs": doc["num_train_epochs"], "ss_gradient_checkpointing": args.gradient_checkpointing,
        "ss_gradient_accumulation_steps": args.gradient_accumulation_steps, "ss_max_train_steps": doc["max_train_steps"],
        "ss_lr_warmup_steps": args.lr_warmup_steps, "ss_lr_scheduler": args.lr_scheduler,
        "ss_network_module": args.network_module, "ss_network_dim": args.network_dim,
        "ss_network_alpha": args.network_alpha, "ss_network_dropout": args.network_dropout,
        "ss_mixed_precision": args.mixed_precision, "ss_full_fp16": bool(args.full_fp16), "ss_v2": bool(args.v2),
        "ss_base_model_version": version, "ss_clip_skip": args.clip_skip,
        "ss_max_token_length": args.max_token_length, "ss_cache_latents": bool(args.cache_latents),
        "ss_seed": args.seed, "ss_lowram": args.lowram, "ss_noise_offset": args.noise_offset,
        "ss_training_comment": args.training_comment, "ss_sd_scripts_commit_hash": "0" * 40,
        "ss_optimizer": "torch.optim.adamw.AdamW", "ss_max_grad_norm": args.max_grad_norm,
        "ss_caption_dropout_rate": args.caption_dropout_rate,
        "ss_caption_dropout_every_n_epochs": args.caption_dropout_every_n_epochs,
        "ss_caption_tag_dropout_rate": args.caption_tag_dropout_rate, "ss_prior_loss_weight": args.prior_loss_weight,
        "ss_min_snr_gamma": args.min_snr_gamma, "ss_loss_type": args.loss_type,
    }
    meta.update(dataset_metadata(args, group, args.dataset_config is not None))
    if args.pretrained_model_name_or_path is not None:
        meta["ss_sd_model_name"] = os.path.basename(args.pretrained_model_name_or_path)
    return {k: str(v) for k, v in meta.items()}


def main(argv: list[str]) -> int:
    out = argv[0]
    k = argv.index("--")
    oracle_argv, sd_argv = argv[1:k], argv[k + 1:]
    trainer = oracle_argv[oracle_argv.index("--oracle_trainer") + 1] if "--oracle_trainer" in oracle_argv \
        else "train_network"
    if trainer == "train_network" and "--oracle_via_train" not in oracle_argv:
        oracle_argv.append("--oracle_via_train")
    oracle = _load_oracle()
    kept: dict = {}
    seams = oracle._install_seams

    def install():
        seams()
        from library import config_util, train_util

        gen, prep = config_util.generate_dataset_group_by_blueprint, train_util.prepare_dataset_args

        def generate(*a, **kw):
            kept["groups"] = gen(*a, **kw)
            return kept["groups"]

        def prepare(args, *a, **kw):
            kept["args"] = args
            return prep(args, *a, **kw)

        generate._sdscripts_oracle_seam = True  # (the oracle's check: already patched)
        config_util.generate_dataset_group_by_blueprint = generate
        train_util.prepare_dataset_args = prepare

    oracle._install_seams = install
    doc_path = out + ".oracle.json"
    oracle._grab_stdout_for_json = lambda: open(doc_path, "w", encoding="utf-8", errors="backslashreplace")
    os.dup2(2, 1)
    rc = oracle.main(oracle_argv + sd_argv)
    with open(doc_path, encoding="utf-8") as fh:
        doc = json.load(fh)
    os.remove(doc_path)
    if rc != 0 or "groups" not in kept:
        print(f"lora_meta: the oracle stopped (exit {rc}): {doc.get('error')}: {doc.get('message')}", file=sys.stderr)
        return rc or 1
    meta = metadata(trainer, kept["args"], kept["groups"][0], doc)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"metadata": meta, "oracle": doc}, fh, indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
