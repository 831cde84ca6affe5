"""The values a trainer counts its steps with, as its ``train()`` uses them, and where a value of
the wrong type stops it. Facts only.

argparse gives integers, but a ``--config_file`` value reaches the namespace as TOML typed it
(train_util.read_config_from_file): ``gradient_accumulation_steps = "2"``, ``max_train_epochs =
2.5``. sd-scripts then goes on until it uses the value:

* ``prepare_accelerator``, right after the dataset checks (before the dataset in textual
  inversion, which loads its models first), builds ``Accelerator(gradient_accumulation_steps=...)``,
  which takes ``int(str(value))`` (accelerate 1.6): ``2.0``, ``true`` or ``"two"`` raise ValueError
  there, ``"2"`` passes; train_db.py compares the value with 1 just before, so any string stops it
  there with TypeError;
* after the models load, ``max_train_epochs * ceil(len(dataloader) / num_processes /
  gradient_accumulation_steps)``, ``ceil(len / gradient_accumulation_steps)`` and ``ceil(max_train_steps
  / that)``: a value that is not a number raises TypeError, an accumulation of 0 ZeroDivisionError;
* a float ``max_train_steps`` (``max_train_epochs = 2.5``, or ``max_train_steps = 100.5`` itself)
  survives the counting and stops the run when training starts, at ``range(max_train_steps)``:
  that is ``steps.training_stop``, once the figures are known.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..model import Crash
from ..safeio import here as _here
from .argv import SdArgs

KEYS = ("max_train_epochs", "max_train_steps", "gradient_accumulation_steps")
_DEFAULTS = {"max_train_epochs": None, "max_train_steps": 1600, "gradient_accumulation_steps": 1}


@dataclass(frozen=True)
class StepValues:
    """The numbers to count with (a bool as the int it is; a value that is not a number replaced by
    what its text says, else the default: the figures once the stop is fixed) and the stops."""

    max_train_epochs: int | float | None
    max_train_steps: int | float
    gradient_accumulation_steps: int | float
    accelerator_stop: Crash | None  # at prepare_accelerator (before the DataLoader): the value is refused
    count_stop: Crash | None  # train(): the step count fails (TypeError, ZeroDivisionError)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float))  # a bool is an int to Python's arithmetic


def _usable(key: str, value: object) -> int | float | None:
    if _is_number(value):
        return int(value) if isinstance(value, bool) else value  # type: ignore[arg-type]
    try:
        return int(str(value))
    except ValueError:
        return _DEFAULTS[key]


def step_values(sd: SdArgs, trainer: str) -> StepValues:
    """The values of ``sd`` the step count uses, and where they stop ``trainer``."""
    raw = {key: sd.get(key, _DEFAULTS[key]) for key in KEYS}
    accumulation, epochs, steps = raw["gradient_accumulation_steps"], raw["max_train_epochs"], raw["max_train_steps"]
    here = _here()
    accelerator_stop = None
    if trainer == "train_db" and not _is_number(accumulation):
        # train_db.train() warns 'if args.gradient_accumulation_steps > 1' just before prepare_accelerator
        accelerator_stop = Crash("start", "RA077", "TypeError", here,
                                 f"--config_file: gradient_accumulation_steps = {accumulation!r} is not a number: "
                                 f"{trainer}.py compares it with 1 before it creates its Accelerator and stops "
                                 f"('>' not supported between instances of '{type(accumulation).__name__}' and 'int'); "
                                 f"write an integer without quotes")
    try:
        int(str(accumulation))
    except ValueError as exc:
        accelerator_stop = accelerator_stop or Crash(
            "start", "RA077", "ValueError", here,
            f"--config_file: gradient_accumulation_steps = {accumulation!r}: {trainer}.py stops when it creates its "
            f"Accelerator, which reads the value as int('{accumulation}') ({exc}); write an integer")
    count_stop = None
    if not _is_number(accumulation):
        count_stop = _type_stop("gradient_accumulation_steps", accumulation, trainer)
    elif accumulation == 0:
        count_stop = Crash("start", "RA077", "ZeroDivisionError", here,
                           f"gradient_accumulation_steps 0: {trainer}.py divides by it when it counts the steps, "
                           f"after loading its models")
    elif epochs is not None and not _is_number(epochs):
        count_stop = _type_stop("max_train_epochs", epochs, trainer)
    elif epochs is None and not _is_number(steps):
        count_stop = _type_stop("max_train_steps", steps, trainer)
    return StepValues(_usable("max_train_epochs", epochs) if epochs is not None else None,
                      _usable("max_train_steps", steps), _usable("gradient_accumulation_steps", accumulation),  # type: ignore[arg-type]
                      accelerator_stop, count_stop)


def _type_stop(key: str, value: object, trainer: str) -> Crash:
    return Crash("start", "RA077", "TypeError", _here(),
                 f"--config_file: {key} = {value!r} is not a number: {trainer}.py stops with TypeError where it "
                 f"counts the steps, after loading its models (write {key} = {_usable(key, value) or 1}, an integer "
                 f"without quotes)")
