"""Training: pretraining, stage 1 (SFT + InfoNCE) and stage 2 (GRPO).

Each function takes the same options as ``lrem train <stage> --config FILE.json`` (see
docs/TRAINING.md), either as keyword arguments, as a config file, or both (keywords win)::

    import lrem.train
    lrem.train.pretrain(corpus="corpus.txt", output_dir="runs/base", max_steps=2000)
    lrem.train.sft(config="stage1.json", resume=True)
    lrem.train.grpo(model="runs/stage1", data="pairs.jsonl", output_dir="runs/stage2",
                    progress=lambda p: print(p["step"], p["metrics"]["reward"]))

They return ``{"steps", "wall_seconds", "final_metrics", "output_dir"}``; the trained model
is a Hugging Face directory that ``lrem.Model.load(output_dir)`` reads. Bad options raise
``lrem.FormatError`` / ``lrem.InvalidArgument`` naming the field. The GIL is released while
training runs; ``progress`` (optional) is called with a dict at every logged step.
"""

import json
import os
from typing import Any, Callable, Dict, Optional

from . import _lrem

__all__ = ["pretrain", "sft", "grpo", "merge_adapter"]

Progress = Optional[Callable[[Dict[str, Any]], None]]


def _options(config: Optional[str], options: Dict[str, Any]) -> str:
    merged: Dict[str, Any] = {}
    if config is not None:
        with open(os.fspath(config), encoding="utf-8") as f:
            merged = json.load(f)
        if not isinstance(merged, dict):
            raise _lrem.FormatError(f"{config}: expected a JSON object of training options")
    merged.update({k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in options.items()})
    return json.dumps(merged)


def pretrain(config: Optional[str] = None, *, progress: Progress = None, **options: Any) -> Dict[str, Any]:
    """Trains a tokenizer (unless ``tokenizer`` is given) and a Llama-family model from
    scratch with next-token loss on ``corpus`` (one document per line). Architecture
    fields go in ``model={...}`` (Hugging Face config.json names). ``init_model=DIR``
    continues pretraining that model instead (its tokenizer and architecture)."""
    return _lrem.train_pretrain(_options(config, options), progress)


def sft(config: Optional[str] = None, *, progress: Progress = None, **options: Any) -> Dict[str, Any]:
    """Stage 1: lambda_sft * SFT on the CoT and ``</think><emb>`` + lambda_nce * InfoNCE of
    query and item ``<emb>`` states, on ``data`` (JSONL query/cot/item triplets)."""
    return _lrem.train_sft(_options(config, options), progress)


def grpo(config: Optional[str] = None, *, progress: Progress = None, **options: Any) -> Dict[str, Any]:
    """Stage 2: GRPO with format, length and accuracy rewards (+ lambda_nce * InfoNCE) on
    ``data`` (JSONL query/item pairs), starting from the stage-1 ``model``; ``ppo_epochs``
    updates per sampled batch, ``reward_pool_extra_items`` catalogue items added to the
    accuracy reward's ranking pool. The CoT cap is the model's ``max_cot_tokens``."""
    return _lrem.train_grpo(_options(config, options), progress)


def merge_adapter(adapter: "str | os.PathLike[str]", out: "str | os.PathLike[str]",
                  base: "Optional[str | os.PathLike[str]]" = None) -> None:
    """Merges a LoRA adapter (a ``checkpoint-<step>`` of a run with ``lora={"r": ...}``, or its
    ``output_dir/adapter``) into its base model and writes a plain Hugging Face directory to
    ``out``. ``base`` defaults to the adapter's ``base_model_name_or_path``."""
    _lrem.merge_adapter(os.fspath(adapter), os.fspath(out), "" if base is None else os.fspath(base))
