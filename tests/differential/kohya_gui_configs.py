"""The kohya_ss GUI's saved configurations (bmaltais/kohya_ss ``presets/`` and ``test/config/``)
turned into what the GUI runs: the ``--config_file`` TOML, the command it logs, and the step figure
it logs. Our own code, written from reading the GUI's training tabs (kohya_gui/lora_gui.py,
dreambooth_gui.py, finetune_gui.py, textual_inversion_gui.py at 45088f0: each ``train_model``) and
the widget defaults in kohya_gui/class_*.py; nothing of the GUI is imported or run.

What the GUI does, in the order it does it (every tab alike unless said):

* A saved JSON loads into the tab's widgets; a key the JSON lacks keeps the widget's default
  (``DEFAULTS``: Max train steps 1600, Epoch 1, Max resolution "512,512", ...). Older presets keep
  numbers as strings ('75', '1.0', ''); the widgets hand them on as numbers ('' as 0).
* The step figure (LoRA, DreamBooth, TI): without a dataset config, every subfolder of
  train_data_dir whose name up to the first '_' is an int counts ``repeats x`` its files ending (any
  case) in .jpg .jpeg .png .webp; ``max_train_steps = ceil(total / batch / accumulation * epoch *
  reg_factor)`` with reg_factor 2 whenever reg_data_dir is set, computed only when Max train steps
  is 0, logged as ``max_train_steps (T / B / A * E * R) = S``. Fine-tune: the image folder's own
  count x dataset_repeats, the same formula without reg_factor, then halved (rounded up) with
  flip_aug whatever Max train steps was. With a dataset config no formula: "Max train steps: N".
* The fine-tune tab first runs sd-scripts' ``finetune/merge_captions_to_metadata.py IMAGE_FOLDER
  TRAIN_DIR/meta_cap.json --caption_extension EXT [--full_path]`` (and prepare_buckets_latents.py,
  which needs the model); ``in_json`` is TRAIN_DIR/meta_lat.json with "Use latent files" = Yes,
  else TRAIN_DIR/meta_cap.json.
* ``config_toml_data``: the tab's own keys (``_toml_data``), then every value in ("", False, None)
  left out -- and so every 0 and 0.0, since 0 == False --, ``max_data_loader_n_workers`` put back,
  keys sorted, ``toml.dump``.
* The command: ``accelerate launch`` + the launch options (AccelerateLaunch.run_cmd) +
  ``{scriptdir}/sd-scripts/SCRIPT.py --config_file {output_dir}/config_{tab}-{datetime}.toml`` +
  the "Additional parameters" with every '"' removed, split on whitespace.

Not reproduced (they never reach the dataset): the LyCORIS/Flux ``network_args`` strings (written
as the GUI writes them only for types that need no network_args), huggingface/wandb extras.

    python tests/differential/kohya_gui_configs.py [--mirror GIT_DIR] [--keep DIR] [-v]

runs every configuration through the real sd-scripts (the oracle) and regaudit on a generated tree
and prints "K/N GUI configurations agree". See ``main``.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
from dataclasses import dataclass, field

import toml

TABS = ("lora", "dreambooth", "finetune", "ti")
TAB_FILE = {"lora": "lora", "dreambooth": "dreambooth", "finetune": "finetune", "ti": "textual_inversion"}
GUI_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

# widget defaults (class_basic_training.py, class_advanced_training.py, class_accelerate_launch.py,
# class_sdxl_parameters.py, class_source_model.py and the tabs' own widgets)
DEFAULTS = {
    "epoch": 1, "max_train_steps": 1600, "max_train_epochs": 0, "train_batch_size": 1,
    "gradient_accumulation_steps": 1, "max_resolution": "512,512", "enable_bucket": True, "min_bucket_reso": 256,
    "max_bucket_reso": 2048, "bucket_reso_steps": 64, "bucket_no_upscale": True, "cache_latents": True,
    "cache_latents_to_disk": False, "caption_extension": ".txt", "max_token_length": 75,
    "max_data_loader_n_workers": 0, "seed": 0, "flip_aug": False, "color_aug": False, "random_crop": False,
    "keep_tokens": 0, "shuffle_caption": False, "masked_loss": False, "prior_loss_weight": 1.0,
    "learning_rate": 0.0001, "xformers": "xformers", "mixed_precision": "fp16", "save_precision": "fp16",
    "optimizer": "AdamW8bit", "lr_scheduler": "cosine", "lr_scheduler_num_cycles": 1, "lr_scheduler_power": 1,
    "lr_warmup": 0, "lr_warmup_steps": 0, "max_grad_norm": 1.0, "clip_skip": 1, "num_processes": 1,
    "num_machines": 1, "num_cpu_threads_per_process": 2, "dynamo_backend": "no", "noise_offset_type": "Original",
    "output_name": "last", "save_model_as": "safetensors", "save_every_n_epochs": 1, "huber_c": 0.1,
    "huber_scale": 1, "huber_schedule": "snr", "loss_type": "l2", "max_timestep": 1000, "vae_batch_size": 0,
    "caption_dropout_every_n_epochs": 0, "caption_dropout_rate": 0, "persistent_data_loader_workers": False,
    "sdxl_cache_text_encoder_outputs": False, "sdxl_no_half_vae": False, "sdxl": False, "sdxl_checkbox": False,
    "sd3_checkbox": False, "flux1_checkbox": False, "v2": False, "v_parameterization": False,
    "LoRA_type": "Standard", "network_dim": 8, "network_alpha": 1, "text_encoder_lr": 0.0001, "unet_lr": 0.0001,
    "t5xxl_lr": 0.0, "dataset_repeats": 40, "use_latent_files": "Yes", "caption_metadata_filename": "meta_cap.json",
    "latent_metadata_filename": "meta_lat.json", "full_path": True, "init_word": "*", "num_vectors_per_token": 1,
    "template": "caption", "token_string": "", "additional_parameters": "", "extra_accelerate_launch_args": "",
    "gpu_ids": "", "main_process_port": 0, "multi_gpu": False, "sample_prompts": "", "sample_sampler": "euler_a",
    "train_data_dir": "", "reg_data_dir": "", "dataset_config": "", "output_dir": "", "logging_dir": "",
    "image_folder": "", "train_dir": "", "lr_scheduler_args": "", "optimizer_args": "", "noise_offset": 0,
    "multires_noise_discount": 0.3, "multires_noise_iterations": 0, "adaptive_noise_scale": 0,
}
# widgets that hold numbers: a string there ('75', '1.0', '') is handed on as a number ('' as 0)
NUMERIC = {"epoch", "max_train_steps", "max_train_epochs", "train_batch_size", "gradient_accumulation_steps",
           "min_bucket_reso", "max_bucket_reso", "bucket_reso_steps", "max_token_length", "max_data_loader_n_workers",
           "seed", "keep_tokens", "prior_loss_weight", "dataset_repeats", "lr_scheduler_num_cycles",
           "caption_dropout_every_n_epochs", "vae_batch_size", "num_processes", "num_machines",
           "num_cpu_threads_per_process", "num_vectors_per_token", "save_every_n_epochs", "max_timestep",
           "network_dim", "network_alpha", "clip_skip", "learning_rate", "unet_lr", "text_encoder_lr",
           "lr_warmup", "lr_warmup_steps", "noise_offset", "min_snr_gamma"}

# keys written as the widget holds them (after the "" / False / None / 0 filter): the
# "x if x != 0 else None" entries are the same thing once the filter has run
_PLAIN = {
    "lora": """async_upload bucket_no_upscale bucket_reso_steps cache_latents cache_latents_to_disk caption_dropout_rate
        caption_extension color_aug dataset_config debiased_estimation_loss dynamo_backend dim_from_weights enable_bucket
        flip_aug fp8_base full_bf16 full_fp16 gradient_checkpointing highvram huber_c huber_scale huber_schedule
        ip_noise_gamma_random_strength logging_dir log_config log_tracker_name log_tracker_config loss_type lr_scheduler
        lr_scheduler_power masked_loss max_bucket_reso max_grad_norm mem_eff_attn metadata_author metadata_description
        metadata_license metadata_tags metadata_title mixed_precision network_alpha network_dim network_dropout
        network_weights noise_offset_type output_dir output_name pretrained_model_name_or_path prior_loss_weight
        random_crop reg_data_dir resume sample_sampler save_model_as save_precision save_state save_state_on_train_end
        scale_v_pred_loss_like_noise_pred scale_weight_norms shuffle_caption skip_cache_check train_batch_size
        train_data_dir training_comment log_with v_parameterization weighted_captions ip_noise_gamma min_snr_gamma
        min_timestep max_timestep sample_every_n_epochs sample_every_n_steps save_every_n_epochs save_every_n_steps
        save_last_n_steps save_last_n_steps_state save_last_n_epochs save_last_n_epochs_state v_pred_like_loss
        vae_batch_size v2 vae""",
    "dreambooth": """async_upload bucket_no_upscale bucket_reso_steps cache_latents cache_latents_to_disk caption_dropout_rate
        caption_extension color_aug dataset_config debiased_estimation_loss dynamo_backend enable_bucket flip_aug fp8_base
        full_bf16 full_fp16 gradient_checkpointing huber_c huber_scale huber_schedule ip_noise_gamma_random_strength
        learning_rate logging_dir log_config log_tracker_config log_tracker_name log_with loss_type lr_scheduler
        lr_scheduler_power masked_loss max_bucket_reso max_grad_norm mem_eff_attn metadata_author metadata_description
        metadata_license metadata_tags metadata_title mixed_precision multires_noise_discount no_token_padding
        noise_offset_random_strength noise_offset_type output_dir output_name pretrained_model_name_or_path
        prior_loss_weight random_crop reg_data_dir resume sample_sampler save_model_as save_precision save_state
        save_state_on_train_end scale_v_pred_loss_like_noise_pred shuffle_caption skip_cache_check train_batch_size
        train_data_dir v2 v_parameterization vae weighted_captions adaptive_noise_scale clip_skip ip_noise_gamma
        max_timestep min_snr_gamma min_timestep multires_noise_iterations noise_offset sample_every_n_epochs
        sample_every_n_steps save_every_n_epochs save_every_n_steps save_last_n_steps save_last_n_steps_state
        save_last_n_epochs save_last_n_epochs_state v_pred_like_loss vae_batch_size""",
    "finetune": """async_upload block_lr bucket_no_upscale bucket_reso_steps cache_latents cache_latents_to_disk
        caption_dropout_rate caption_extension color_aug dataset_config debiased_estimation_loss dynamo_backend flip_aug
        fp8_base full_bf16 full_fp16 gradient_checkpointing huber_c huber_scale huber_schedule
        ip_noise_gamma_random_strength learning_rate logging_dir log_config log_tracker_name log_tracker_config loss_type
        lr_scheduler masked_loss mem_eff_attn metadata_author metadata_description metadata_license metadata_tags
        metadata_title mixed_precision multires_noise_discount noise_offset_random_strength noise_offset_type output_dir
        output_name pretrained_model_name_or_path random_crop resume sample_sampler save_model_as save_precision
        save_state save_state_on_train_end scale_v_pred_loss_like_noise_pred shuffle_caption skip_cache_check
        train_batch_size train_text_encoder log_with v2 v_parameterization weighted_captions adaptive_noise_scale
        ip_noise_gamma max_timestep min_snr_gamma min_timestep multires_noise_iterations noise_offset
        sample_every_n_epochs sample_every_n_steps save_every_n_epochs save_every_n_steps save_last_n_steps
        save_last_n_steps_state save_last_n_epochs save_last_n_epochs_state v_pred_like_loss vae_batch_size""",
    "ti": """async_upload bucket_no_upscale bucket_reso_steps cache_latents cache_latents_to_disk caption_extension color_aug
        dataset_config enable_bucket flip_aug full_fp16 gradient_checkpointing huber_c huber_scale huber_schedule
        init_word ip_noise_gamma_random_strength learning_rate logging_dir log_config log_tracker_name
        log_tracker_config loss_type lr_scheduler lr_scheduler_power max_bucket_reso mem_eff_attn metadata_author
        metadata_description metadata_license metadata_tags metadata_title mixed_precision multires_noise_discount
        no_token_padding noise_offset_random_strength noise_offset_type output_dir output_name
        pretrained_model_name_or_path prior_loss_weight random_crop reg_data_dir resume sample_sampler save_model_as
        save_precision save_state save_state_on_train_end scale_v_pred_loss_like_noise_pred shuffle_caption
        skip_cache_check token_string train_batch_size train_data_dir log_with v2 v_parameterization vae weights
        adaptive_noise_scale clip_skip ip_noise_gamma max_timestep min_snr_gamma min_timestep multires_noise_iterations
        noise_offset sample_every_n_epochs sample_every_n_steps save_every_n_epochs save_every_n_steps
        save_last_n_steps save_last_n_steps_state save_last_n_epochs save_last_n_epochs_state v_pred_like_loss
        vae_batch_size""",
}
# SD3 / FLUX.1 keys the LoRA, DreamBooth and fine-tune tabs write only with that model's checkbox
_SD3_KEYS = ("clip_g", "logit_mean", "logit_std", "mode_scale", "save_clip", "save_t5xxl", "t5xxl_device",
             "t5xxl_dtype", "weighting_scheme")
_FLUX_KEYS = ("ae", "discrete_flow_shift", "model_prediction_type", "timestep_sampling", "t5xxl_max_token_length",
              "guidance_scale", "mem_eff_save", "apply_t5_attn_mask", "cpu_offload_checkpointing",
              "single_blocks_to_swap", "double_blocks_to_swap")


def tab_of(path: str) -> str | None:
    """Which tab a saved JSON belongs to: presets/<tab>/, or test/config/'s file name prefix."""
    parts = path.replace("\\", "/").split("/")
    if parts[0] == "presets":
        return {"lora": "lora", "dreambooth": "dreambooth", "finetune": "finetune"}.get(parts[1])
    name = parts[-1]
    if name.startswith("dreambooth"):
        return "dreambooth"
    if name.startswith("TI-"):
        return "ti"
    if name.startswith("finetune"):
        return "finetune"
    return "lora"


def _number(value):
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        return float(text) if any(c in text for c in ".eE") else int(text)
    return value


def widget_values(saved: dict) -> dict:
    """The widgets after loading ``saved``: defaults, then the JSON, numbers as the widgets hold them."""
    values = dict(DEFAULTS)
    values.update(saved)
    for key in NUMERIC:
        if key in values:
            values[key] = _number(values[key])
    return values


def is_sdxl(v: dict, tab: str) -> bool:
    return bool(v.get("sdxl_checkbox") if tab == "finetune" else v.get("sdxl"))


def script_of(v: dict, tab: str) -> str:
    """The sd-scripts script each tab runs (its ``run_cmd.append(...)`` chain)."""
    sdxl, sd3, flux = is_sdxl(v, tab), bool(v.get("sd3_checkbox")), bool(v.get("flux1_checkbox"))
    if tab == "lora":
        return ("sdxl_train_network" if sdxl else "flux_train_network" if flux else "sd3_train_network" if sd3
                else "train_network")
    if tab == "dreambooth":
        return "sdxl_train" if sdxl else "sd3_train" if sd3 else "flux_train" if flux else "train_db"
    if tab == "finetune":
        return "sdxl_train" if sdxl else "sd3_train" if sd3 else "flux_train" if flux else "fine_tune"
    return "sdxl_train_textual_inversion" if sdxl else "train_textual_inversion"


# ---- the step figure


@dataclass
class GuiFigure:
    max_train_steps: int  # what the GUI writes (0: left out of the TOML, sd-scripts' 1600)
    line: str  # what it logs
    formula: str  # "folders" | "fine-tune" | "typed" | "dataset-config"
    total: int = 0
    reg_factor: int = 1
    epoch: int = 1  # the Epoch widget it used


def _gui_count(folder: str) -> int:
    return sum(1 for name in os.listdir(folder) if name.lower().endswith(GUI_IMAGE_SUFFIXES))


def gui_figure(v: dict, tab: str) -> GuiFigure:
    steps = int(v["max_train_steps"])
    if v["dataset_config"]:
        line = (f"Max train steps: {steps}" if steps else
                "Max train steps: 0. sd-scripts will therefore default to 1600. Please specify a different value if "
                "required.")
        return GuiFigure(steps, line, "dataset-config")
    batch, accum, epoch = int(v["train_batch_size"]), int(v["gradient_accumulation_steps"]), int(v["epoch"])
    if tab == "finetune":
        total = _gui_count(v["image_folder"]) * int(v["dataset_repeats"])
        formula = "typed"
        if steps == 0:
            steps = int(math.ceil(float(total) / batch / accum * epoch))
            formula = "fine-tune"
        if v["flip_aug"] and steps:
            steps = int(math.ceil(float(steps) / 2))
        return GuiFigure(steps, f"Max train steps: {steps}", formula, total, epoch=epoch)
    total = 0
    root = v["train_data_dir"]
    for folder in [f for f in os.listdir(root) if os.path.isdir(os.path.join(root, f))]:
        try:
            repeats = int(folder.split("_")[0])
        except ValueError:
            continue
        total += repeats * _gui_count(os.path.join(root, folder))
    reg_factor = 2 if v["reg_data_dir"] else 1
    if steps == 0:
        steps = int(math.ceil(float(total) / batch / accum * epoch * reg_factor))
        return GuiFigure(steps, f"max_train_steps ({total} / {v['train_batch_size']} / "
                                f"{v['gradient_accumulation_steps']} * {v['epoch']} * {reg_factor}) = {steps}",
                         "folders", total, reg_factor, epoch)
    return GuiFigure(steps, f"Max train steps: {steps}", "typed", total, reg_factor, epoch)


# ---- config_toml_data


def _split_args(text) -> list[str]:
    return str(text).replace('"', "").split()


def _lora_network(v: dict) -> tuple[str, str]:
    """network_module and network_args for the LoRA types whose args need no widget beyond the JSON."""
    kind = v.get("LoRA_type", "Standard")
    if kind.startswith("LyCORIS/") or kind == "LoCon":
        return "lycoris.kohya", ""  # its preset/algo string: not reproduced (no dataset effect)
    if kind == "Flux1":
        return "networks.lora_flux", ""
    if kind in ("Kohya LoCon",):
        return "networks.lora", ""
    if kind == "Kohya DyLoRA":
        return "networks.dylora", ""
    if kind == "Kohya LoHa":
        return "networks.loha", ""
    if kind == "Kohya LoKr":
        return "networks.lokr", ""
    return v.get("network_module") or "networks.lora", ""


def _toml_data(v: dict, tab: str, max_train_steps: int, lr_warmup_steps) -> dict:
    sdxl, sd3, flux = is_sdxl(v, tab), bool(v.get("sd3_checkbox")), bool(v.get("flux1_checkbox"))
    d = {k: v.get(k) for k in _PLAIN[tab].split()}
    d["resolution"] = v["max_resolution"]
    d["optimizer_type"] = v["optimizer"]
    d["epoch"] = int(v["epoch"]) if tab != "finetune" else None
    d["gradient_accumulation_steps"] = int(v["gradient_accumulation_steps"])
    d["keep_tokens"] = int(v["keep_tokens"])
    d["caption_dropout_every_n_epochs"] = int(v["caption_dropout_every_n_epochs"])
    d["min_bucket_reso"] = int(v["min_bucket_reso"])
    d["max_train_epochs"] = int(v["max_train_epochs"]) or None
    d["max_train_steps"] = int(max_train_steps) or None
    d["persistent_data_loader_workers"] = int(bool(v["persistent_data_loader_workers"]))
    d["lr_scheduler_args"] = _split_args(v["lr_scheduler_args"])
    d["lr_scheduler_type"] = v.get("lr_scheduler_type") or None
    d["lr_warmup_steps"] = lr_warmup_steps
    d["sample_prompts"] = os.path.join(v["output_dir"], "sample/prompt.txt")  # create_prompt_file always writes
    d["sdpa"] = True if v["xformers"] == "sdpa" else None
    d["xformers"] = True if v["xformers"] == "xformers" else None
    d["seed"] = int(v["seed"]) or None
    d["wandb_run_name"] = v.get("wandb_run_name") or v["output_name"]
    if tab in ("lora", "dreambooth", "ti"):
        d["lr_scheduler_num_cycles"] = (int(v["lr_scheduler_num_cycles"]) if v["lr_scheduler_num_cycles"] != ""
                                        else int(v["epoch"]))
    if tab == "lora":
        module, args = _lora_network(v)
        d["network_module"], d["network_args"] = module, _split_args(args)
        d["learning_rate"] = float(v["learning_rate"])
        te, unet = float(v.get("text_encoder_lr") or 0), float(v.get("unet_lr") or 0)
        d["unet_lr"] = unet or None
        t5 = float(v.get("t5xxl_lr") or 0)
        d["text_encoder_lr"] = ([te, t5] if te > 0 and t5 > 0 else [te, te] if te > 0 else None)
        d["network_train_unet_only"] = te == 0 and unet != 0  # resolve_network_train_flags
        d["network_train_text_encoder_only"] = te != 0 and unet == 0
        d["max_token_length"] = None if flux else int(v["max_token_length"])
        d["clip_skip"] = v["clip_skip"] or None
        d["noise_offset"] = v["noise_offset"] if v["noise_offset_type"] == "Original" else None
        d["adaptive_noise_scale"] = v["adaptive_noise_scale"] if v["noise_offset_type"] == "Original" else None
        d["noise_offset_random_strength"] = (v.get("noise_offset_random_strength")
                                             if v["noise_offset_type"] == "Original" else None)
        d["multires_noise_discount"] = (v["multires_noise_discount"] if v["noise_offset_type"] == "Multires"
                                        else None)
        d["multires_noise_iterations"] = (v["multires_noise_iterations"] if v["noise_offset_type"] == "Multires"
                                          else None)
        d["no_half_vae"] = True if sdxl and v.get("sdxl_no_half_vae") else None
        d["optimizer_args"] = _split_args(v["optimizer_args"]) if v["optimizer_args"] != [] else None
        d["cache_text_encoder_outputs"] = (
            True if (sdxl and v.get("sdxl_cache_text_encoder_outputs")) or (flux and v.get(
                "flux1_cache_text_encoder_outputs")) or (sd3 and v.get("sd3_cache_text_encoder_outputs")) else None)
        d["cache_text_encoder_outputs_to_disk"] = (
            True if (flux and v.get("flux1_cache_text_encoder_outputs_to_disk")) or (
                sd3 and v.get("sd3_cache_text_encoder_outputs_to_disk")) else None)
        d["clip_l"] = v.get("sd3_clip_l") if sd3 else v.get("clip_l") if flux else None
        d["t5xxl"] = v.get("t5xxl") if flux else v.get("sd3_t5xxl") if sd3 else None
        d["fp8_base_unet"] = v.get("fp8_base_unet") if flux else None
        d["split_mode"] = v.get("split_mode") if flux else None
        d["blocks_to_swap"] = v.get("blocks_to_swap") if flux or sd3 else None
    else:
        d["max_token_length"] = int(v["max_token_length"])
        d["optimizer_args"] = _split_args(v["optimizer_args"])
        if tab == "dreambooth" and v["optimizer_args"] == "":
            d["optimizer_args"] = None
        d["clip_l"] = v.get("flux1_clip_l") if flux else v.get("clip_l") if sd3 else None
        d["t5xxl"] = v.get("t5xxl") if sd3 else v.get("flux1_t5xxl") if flux else None
        d["blocks_to_swap"] = v.get("blocks_to_swap") if flux or sd3 else None
    if tab == "dreambooth":
        d["learning_rate_te"] = v.get("learning_rate_te") if not sdxl else None
        d["learning_rate_te1"] = v.get("learning_rate_te1") if sdxl else None
        d["learning_rate_te2"] = v.get("learning_rate_te2") if sdxl else None
        d["train_text_encoder"] = v.get("train_text_encoder") if sdxl else None
        if sdxl:  # train_text_encoder: a text-encoder learning rate above 0
            d["train_text_encoder"] = bool((v.get("learning_rate_te1") or 0) > 0 or (v.get("learning_rate_te2") or 0) > 0)
        d["no_half_vae"] = bool(sdxl and v.get("sdxl_no_half_vae"))
        d["fused_backward_pass"] = (v.get("sd3_fused_backward_pass") if sd3 else v.get("flux_fused_backward_pass")
                                    if flux else v.get("fused_backward_pass"))
        d["disable_mmap_load_safetensors"] = v.get("disable_mmap_load_safetensors")
        d["cache_text_encoder_outputs"] = bool((sdxl and v.get("sdxl_cache_text_encoder_outputs")) or (
            sd3 and v.get("sd3_cache_text_encoder_outputs")) or (flux and v.get("flux1_cache_text_encoder_outputs")))
        d["cache_text_encoder_outputs_to_disk"] = bool((sd3 and v.get("sd3_cache_text_encoder_outputs_to_disk")) or (
            flux and v.get("flux1_cache_text_encoder_outputs_to_disk")))
    if tab == "finetune":
        d["train_data_dir"] = v["image_folder"]
        d["in_json"] = v["in_json"]
        d["dataset_repeats"] = int(v["dataset_repeats"])
        d["enable_bucket"] = True
        d["max_bucket_reso"] = int(v["max_bucket_reso"])
        d["learning_rate_te"] = v.get("learning_rate_te") if not sdxl else None
        d["learning_rate_te1"] = v.get("learning_rate_te1") if sdxl else None
        d["learning_rate_te2"] = v.get("learning_rate_te2") if sdxl else None
        d["cache_text_encoder_outputs"] = bool((sdxl and v.get("sdxl_cache_text_encoder_outputs")) or (
            sd3 and v.get("sd3_cache_text_encoder_outputs")) or (flux and v.get("flux1_cache_text_encoder_outputs")))
        d["no_half_vae"] = bool(sdxl and v.get("sdxl_no_half_vae"))
        d["clip_skip"] = v["clip_skip"] or None
    if tab == "ti":
        d["no_half_vae"] = v.get("sdxl_no_half_vae")
        d["num_vectors_per_token"] = int(v["num_vectors_per_token"])
        d["use_object_template"] = True if v["template"] == "object template" else None
        d["use_style_template"] = True if v["template"] == "style template" else None
    if tab != "ti":
        for key in _SD3_KEYS:
            d[key] = v.get(key) if sd3 else None
        for key in _FLUX_KEYS:
            d[key] = v.get(key) if flux else None
    d = {k: x for k, x in d.items() if x not in ("", False, None)}  # ...and so 0 and 0.0
    d["max_data_loader_n_workers"] = int(v["max_data_loader_n_workers"])
    return dict(sorted(d.items()))


def _lr_warmup_steps(v: dict):
    """common_gui.resolve_lr_warmup_steps: the absolute override, else the percent as a fraction."""
    def num(x):
        try:
            return float(x) if x not in ("", None) else 0.0
        except (TypeError, ValueError):
            return 0.0
    steps, warmup = num(v.get("lr_warmup_steps")), num(v.get("lr_warmup"))
    return int(steps) if steps > 0 else warmup / 100 if warmup != 0 else 0


def _accelerate(v: dict) -> list[str]:
    """AccelerateLaunch.run_cmd's options, in its order."""
    out = ["accelerate", "launch"]
    if v.get("dynamo_backend"):
        out += ["--dynamo_backend", v["dynamo_backend"]]
    if v.get("dynamo_mode"):
        out += ["--dynamo_mode", v["dynamo_mode"]]
    if v.get("dynamo_use_fullgraph"):
        out.append("--dynamo_use_fullgraph")
    if v.get("dynamo_use_dynamic"):
        out.append("--dynamo_use_dynamic")
    if v.get("extra_accelerate_launch_args", "") != "":
        out += [shlex.quote(a) for a in v["extra_accelerate_launch_args"].replace('"', "").split()]
    if v.get("gpu_ids", "") != "":
        out += ["--gpu_ids", shlex.quote(str(v["gpu_ids"]))]
    if _number(v.get("main_process_port") or 0) > 0:
        out += ["--main_process_port", str(int(_number(v["main_process_port"])))]
    if v.get("mixed_precision"):
        out += ["--mixed_precision", shlex.quote(v["mixed_precision"])]
    if v.get("multi_gpu"):
        out.append("--multi_gpu")
    for key in ("num_processes", "num_machines", "num_cpu_threads_per_process"):
        if int(v.get(key) or 0) > 0:
            out += [f"--{key}", str(int(v[key]))]
    return out


@dataclass
class GuiRun:
    name: str  # the JSON's path in the GUI's repository
    tab: str
    script: str
    toml_text: str
    config: dict
    command: list[str]  # as the GUI logs it; the --config_file path is relative to the run's folder
    figure: GuiFigure
    merge_captions: list[str] | None = None  # the fine-tune tab's merge_captions_to_metadata.py arguments
    notes: list[str] = field(default_factory=list)


def convert(name: str, saved: dict, tab: str, *, paths: dict, when: str = "20260101-000000") -> GuiRun:
    """What the GUI does with the saved JSON ``saved`` in ``tab``, with ``paths`` (train_data_dir,
    reg_data_dir, image_folder, train_dir, dataset_config, output_dir ...) put in place of the user's
    folders: the TOML, the command and the logged figure. The folders must exist (the figure reads them)."""
    v = widget_values(saved)
    v.update(paths)
    notes = []
    merge = None
    if tab == "finetune":
        meta = v["latent_metadata_filename"] if v["use_latent_files"] == "Yes" else v["caption_metadata_filename"]
        v["in_json"] = f"{v['train_dir']}/{meta}"
        if not v["dataset_config"]:
            merge = [v["image_folder"], os.path.join(v["train_dir"], v["caption_metadata_filename"]),
                     "--caption_extension", v["caption_extension"] or ".caption"] + (
                ["--full_path"] if v["full_path"] else [])
    figure = gui_figure(v, tab)
    data = _toml_data(v, tab, figure.max_train_steps, _lr_warmup_steps(v))
    script = script_of(v, tab)
    config_path = f"{v['output_dir']}/config_{TAB_FILE[tab]}-{when}.toml"
    command = _accelerate(v) + [f"{{scriptdir}}/sd-scripts/{script}.py", "--config_file", config_path]
    if v.get("additional_parameters", "") != "":
        command += [shlex.quote(a) for a in v["additional_parameters"].replace('"', "").split()]
    return GuiRun(name, tab, script, toml.dumps(data), data, command, figure, merge, notes)


# ---- the differential run: every configuration, the real sd-scripts and regaudit

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MIRROR = os.environ.get("KOHYA_SS_GIT", "/work/.mirror/bmaltais+kohya_ss/repo")
SCRIPTDIR = "/opt/kohya_ss"  # the GUI's install folder in the logged command: it need not exist
DARIUS = "10_darius kawasaki person"
# the GUI's test/img holds 8 JPEGs with captions; here they are generated, in sizes that make buckets
SIZES = [(1024, 1024), (832, 1216), (1216, 832), (768, 1024), (1024, 768), (640, 1536), (1024, 1024), (900, 600)]


def git_show(path: str) -> bytes:
    return subprocess.run(["git", "--git-dir", MIRROR, "show", f"HEAD:{path}"], capture_output=True,
                          check=True).stdout


def gui_files() -> list[str]:
    out = subprocess.run(["git", "--git-dir", MIRROR, "ls-tree", "-r", "--name-only", "HEAD", "presets",
                          "test/config"], capture_output=True, check=True, text=True).stdout.split("\n")
    return [p for p in out if p.endswith(".json") and not p.endswith("meta-1_lat.json")]


def make_tree(root: str, reg: bool) -> None:
    """test/img (8 captioned JPEGs), test/masked_loss (their masks), test/config (the GUI's dataset
    TOMLs and meta-1_lat.json, as they are), test/reg/1_person (12 JPEGs) when ``reg``."""
    from PIL import Image

    folder = os.path.join(root, "test", "img", DARIUS)
    masks = os.path.join(root, "test", "masked_loss")
    os.makedirs(folder)
    os.makedirs(masks)
    for i, size in enumerate(SIZES):
        stem = "Dariusz_Zawadzki" + (f"_{i + 1}" if i else "")
        Image.new("RGB", size, (20 * i, 90, 160)).save(os.path.join(folder, stem + ".jpg"), quality=30)
        Image.new("L", size, 255).save(os.path.join(masks, stem + ".jpg"), quality=30)
        with open(os.path.join(folder, stem + ".txt"), "w") as fh:
            fh.write(f"a painting number {i} , by darius kawasaki\n")
    if reg:
        reg_dir = os.path.join(root, "test", "reg", "1_person")
        os.makedirs(reg_dir)
        for i in range(12):
            Image.new("RGB", (1024, 1024), (5, 5, 5 * i)).save(os.path.join(reg_dir, f"r{i:02d}.jpg"), quality=30)
    os.makedirs(os.path.join(root, "test", "config"))
    for name in ("dataset.toml", "dataset-finetune.toml", "dataset-masked_loss.toml", "dataset-multires.toml",
                 "meta-1_lat.json"):
        with open(os.path.join(root, "test", "config", name), "wb") as fh:
            fh.write(git_show(f"test/config/{name}"))
    for sub in ("output", "logs"):
        os.makedirs(os.path.join(root, "test", sub), exist_ok=True)


def case_paths(saved: dict, tab: str, reg: bool, posix_dataset: bool, root: str | None = None) -> dict:
    """The user's folders, put where the generated tree is (the GUI's own test/ layout); with
    ``root``, absolute (as the GUI's folder pickers give them)."""
    paths = {"output_dir": "./test/output", "logging_dir": "./test/logs" if saved.get("logging_dir") else ""}
    dataset = saved.get("dataset_config") or ""
    if dataset:
        paths["dataset_config"] = dataset.replace(".toml", "-posix.toml") if posix_dataset else dataset
    if tab == "finetune":
        test = os.path.join(root, "test") if root else "./test"
        paths["image_folder"] = "" if dataset else f"{test}/img/{DARIUS}"
        paths["train_dir"] = test
    elif not dataset:
        paths["train_data_dir"] = "./test/img"
        paths["reg_data_dir"] = "./test/reg" if reg else ""
    return paths


@dataclass
class Case:
    name: str
    saved: dict
    tab: str
    reg: bool = False
    posix_dataset: bool = False
    absolute: bool = False  # the fine-tune tab's folders as absolute paths
    changes: dict = field(default_factory=dict)  # widget values changed from the saved JSON

    @property
    def label(self) -> str:
        return (self.name + (" +reg" if self.reg else "") + (" (dataset TOML with '/')" if self.posix_dataset else "")
                + (" (absolute folders)" if self.absolute else "")
                + "".join(f" {k}={v!r}" for k, v in self.changes.items()))


def cases() -> list[Case]:
    out = []
    for path in gui_files():
        saved = json.loads(git_show(path))
        tab = tab_of(path)
        out.append(Case(path, saved, tab))
        dataset = saved.get("dataset_config") or ""
        if tab in ("lora", "dreambooth", "ti") and not dataset and path.startswith("test/"):
            out.append(Case(path, saved, tab, reg=True))  # the GUI doubles its figure for a reg folder
        if dataset and b"\\" in git_show(dataset.lstrip("./")):
            out.append(Case(path, saved, tab, posix_dataset=True))  # the Windows paths written with '/'
        if tab == "finetune" and not dataset:
            # merge_captions_to_metadata.py keeps relative folders relative, and sd-scripts then joins them
            # to image_dir again: the tab works with the absolute folders its pickers give
            out.append(Case(path, saved, tab, absolute=True))
            if saved.get("use_latent_files") == "Yes":  # meta_lat.json needs the model: the captions' metadata
                out.append(Case(path, saved, tab, absolute=True, changes={"use_latent_files": "No"}))
            elif path.startswith("test/"):
                out.append(Case(path, saved, tab, absolute=True, changes={"flip_aug": True}))  # the halved figure
                out.append(Case(path, saved, tab, absolute=True, changes={"flip_aug": True, "dataset_repeats": 3,
                                                                            "train_batch_size": 3, "epoch": 3}))
    return out


def prepare(case: Case, root: str) -> GuiRun:
    make_tree(root, case.reg)
    if case.posix_dataset:
        src = os.path.join(root, case.saved["dataset_config"])
        with open(src) as fh:
            text = fh.read().replace("\\", "/")
        with open(src.replace(".toml", "-posix.toml"), "w") as fh:
            fh.write(text)
    paths = case_paths(case.saved, case.tab, case.reg, case.posix_dataset, os.path.abspath(root) if case.absolute
                       else None)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        run = convert(case.name, {**case.saved, **case.changes}, case.tab, paths=paths)
    finally:
        os.chdir(cwd)
    with open(os.path.join(root, run.command[run.command.index("--config_file") + 1]), "w") as fh:
        fh.write(run.toml_text)
    return run


def merge_metadata(run: GuiRun, root: str, oracle_venv: str, sd_scripts: str, oracle_dir: str) -> None:
    """The fine-tune tab's first step, with sd-scripts' own script."""
    # sd-scripts imports torchvision, which the oracle's CPU torch cannot load: its stub stands in (the
    # script only lists files and reads captions)
    script = os.path.join(sd_scripts, "finetune", "merge_captions_to_metadata.py")
    boot = ("import sys, runpy; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import transformers, sdscripts_oracle; "
            "sdscripts_oracle._install_torchvision_stub(); sys.argv = sys.argv[3:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    p = subprocess.run([os.path.join(oracle_venv, "bin", "python"), "-c", boot, oracle_dir, sd_scripts, script,
                        *run.merge_captions], cwd=root, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"merge_captions_to_metadata.py failed in {root}: {p.stderr[-500:]}")


def regaudit_gui_view(run: GuiRun, root: str, doc: dict) -> list[str]:
    """regaudit's GUI figure against the GUI's: the figure shown, and regaudit's own formula."""
    sys.path.insert(0, REPO)
    from regaudit.sdscripts.gui_steps import gui_steps

    out = []
    if "_exit" in doc:
        return out
    want = run.figure.max_train_steps or None
    if doc.get("gui_estimate_steps") != want:
        out.append(f"GUI figure: the GUI logs {run.figure.line!r}, regaudit shows {doc.get('gui_estimate_steps')!r}")
    if run.figure.formula in ("folders", "fine-tune"):
        c = run.config
        cwd = os.getcwd()
        os.chdir(root)
        try:
            g = gui_steps(train_data_dir=c.get("train_data_dir"), reg_data_dir=c.get("reg_data_dir"),
                          dataset_config=c.get("dataset_config"), in_json=c.get("in_json"),
                          batch=c.get("train_batch_size", 1), accumulation=c.get("gradient_accumulation_steps", 1),
                          epoch=run.figure.epoch, dataset_repeats=c.get("dataset_repeats", 1),
                          flip_aug=bool(c.get("flip_aug")), from_config=True)
        finally:
            os.chdir(cwd)
        if g is None or g.steps != run.figure.max_train_steps:
            out.append(f"GUI formula: the GUI logs {run.figure.line!r}, regaudit's formula "
                       f"{None if g is None else g.log_line!r}")
        note = doc.get("gui_estimate_note") or ""
        if "is not what the GUI's formula gives" in note:
            out.append(f"GUI note contradicts the GUI: {note}")
    return out


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, HERE)
    from run import (ORACLE_DIR, ORACLE_VENV, SD_SCRIPTS, diff, oracle_ready, oracle_view, read_oracle, regaudit_view,
                     run_oracle, balance_json)

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", help="keep the trees and outputs in this folder")
    ap.add_argument("--only", help="only configurations whose name contains this")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    why = oracle_ready()
    if why or not os.path.isdir(MIRROR):
        print(f"kohya_gui_configs: skipped ({why or 'no kohya_ss mirror at ' + MIRROR})")
        return 0
    work = a.keep or tempfile.mkdtemp(prefix="regaudit-gui-")
    os.makedirs(work, exist_ok=True)
    todo, jobs = [], []
    for k, case in enumerate(cases()):
        if a.only and a.only not in case.label:
            continue
        root = os.path.join(work, f"c{k:02d}")
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        run = prepare(case, root)
        if run.merge_captions:
            merge_metadata(run, root, ORACLE_VENV, SD_SCRIPTS, ORACLE_DIR)
        sd_argv = run.command[run.command.index(f"{{scriptdir}}/sd-scripts/{run.script}.py") + 1:]
        oracle_argv = (["--oracle_via_train"] if run.script == "train_network" else
                       ["--oracle_trainer", run.script]) + ["--oracle_probe_load"]
        jobs.append({"argv": sd_argv, "out": os.path.join(root, "oracle.json"), "cwd": root,
                     "oracle_argv": oracle_argv})
        with open(os.path.join(root, "command.txt"), "w") as fh:
            fh.write(" ".join(shlex.quote(x) for x in run.command) + "\n" + run.figure.line + "\n")
        todo.append((case, run, root))
    run_oracle(jobs, os.path.join(work, "oracle.log"))
    agree = 0
    for case, run, root in todo:
        rc, odoc = read_oracle(root)
        command = [x.replace("{scriptdir}", SCRIPTDIR) for x in run.command]
        rdoc = balance_json(command, root)
        with open(os.path.join(root, "regaudit.json"), "w") as fh:
            json.dump(rdoc, fh, indent=1)
        o, r = oracle_view(odoc, rc), regaudit_view(rdoc)
        for k, ds in enumerate((odoc.get("train_dataset_group") or {}).get("datasets") or []):
            # the oracle writes a ControlNetDataset from the outer object, whose subsets live in its
            # DreamBooth delegate: [] there; its images and counts are still compared
            if ds.get("class") == "ControlNetDataset" and not ds.get("subsets") and k < len(r.get("datasets", [])):
                o["datasets"][k]["subsets"] = r["datasets"][k]["subsets"] = "(in the DreamBooth delegate)"
        d = diff(o, r) + regaudit_gui_view(run, root, rdoc)
        if rdoc["_rc"] == 2 and rc != 2:
            d.insert(0, "regaudit exit 2 where sd-scripts runs")
        if not d:
            agree += 1
            if a.verbose:
                o = oracle_view(odoc, rc)
                print(f"ok   {case.label} [{run.script}] crash={o.get('crash')} steps={o.get('max_train_steps')} "
                      f"gui={run.figure.line}")
            continue
        print(f"DIFF {case.label} [{run.script}] ({root})")
        for line in d if a.verbose else d[:4]:
            print(f"    {line}")
    print(f"kohya_gui_configs: {agree}/{len(todo)} GUI configurations agree; work dir {work}")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
