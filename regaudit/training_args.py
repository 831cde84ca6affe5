"""sd-scripts training options as regaudit reads them: command line, then --config_file, then
sd-scripts' defaults. Pure parsing; no file is read except the named config file."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from .errors import ConfigError, OptionError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Keys regaudit uses from an sd-scripts --config_file (training arguments TOML).
KNOWN_KEYS = (
    "train_data_dir", "reg_data_dir", "dataset_config", "resolution", "enable_bucket", "min_bucket_reso",
    "max_bucket_reso", "bucket_reso_steps", "bucket_no_upscale", "train_batch_size",
    "gradient_accumulation_steps", "max_train_epochs", "max_train_steps", "caption_extension",
    "caption_extention", "prior_loss_weight", "cache_latents", "random_crop", "dataset_repeats",
    "num_processes",
)


def parse_resolution(value: object) -> tuple[int, int] | None:
    """sd-scripts: 'N' -> (N, N), 'W,H' -> (W, H)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return int(value[0]), int(value[1])
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    parts = [p.strip() for p in str(value).split(",")]
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise OptionError(f"--resolution '{value}' must be N or W,H (e.g. 512 or 768,512)") from None
    if len(nums) == 1:
        return nums[0], nums[0]
    if len(nums) == 2:
        return nums[0], nums[1]
    raise OptionError(f"--resolution '{value}' must be N or W,H (e.g. 512 or 768,512)")


@dataclass
class ConfigFileValues:
    values: dict = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def read_training_config(path: str) -> ConfigFileValues:
    """An sd-scripts --config_file: sections are flattened, as sd-scripts does."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: training config file not found") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot be parsed as TOML: {exc}") from None
    flat: dict = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    out = ConfigFileValues()
    for key, value in flat.items():
        if key in KNOWN_KEYS:
            out.values[key] = value
        else:
            out.ignored.append(key)
    return out
