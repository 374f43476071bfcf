"""Shared by the fixture scripts: the JSON files of a HuggingFace BLIP-2 checkpoint, in the real style.

Salesforce/blip2-opt-2.7b's config.json states little about the vision and Q-Former towers (absent
fields take transformers' class defaults: vision LayerNorm eps 1e-6, Q-Former 1e-12), a text_config
with OPT-2.7B's sizes and `eos_token_id` 50118 (the newline token), `image_token_index` and
`num_query_tokens`. The fixtures write theirs the same way so that the converter has to resolve
the defaults itself. The keys are the ones transformers 4.x wrote (`torch_dtype`, not `dtype`).
"""

from __future__ import annotations

import json
from pathlib import Path

IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073]
IMAGE_STD = [0.26862954, 0.26130258, 0.27577711]


def dump_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def transformers_version() -> str:
    from importlib.metadata import version
    return version("transformers")


def blip2_config(vision: dict, qformer: dict, text: dict, num_query_tokens: int, image_token_index: int,
                 eos_token_id: int, dtype: str) -> dict:
    """config.json: `vision`/`qformer` hold only fields that differ from the class defaults,
    `text` the OPT fields the real text_config states besides the fixed ones below."""
    return {
        "architectures": ["Blip2ForConditionalGeneration"],
        "image_text_hidden_size": 256,
        "image_token_index": image_token_index,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "model_type": "blip-2",
        "num_query_tokens": num_query_tokens,
        "qformer_config": {"model_type": "blip_2_qformer", **qformer},
        "text_config": {
            "_name_or_path": "facebook/opt-2.7b",
            "activation_dropout": 0.0,
            "architectures": ["OPTForCausalLM"],
            "eos_token_id": eos_token_id,
            "model_type": "opt",
            "prefix": "</s>",
            "torch_dtype": "float16",
            **text,
        },
        "torch_dtype": dtype,
        "transformers_version": transformers_version(),
        "use_decoder_only_language_model": True,
        "vision_config": {"model_type": "blip_2_vision_model", **vision},
    }


def side_files(num_query_tokens: int, image_size: int, eos_token_id: int) -> dict[str, dict]:
    """preprocessor_config.json, processor_config.json and generation_config.json like the real ones."""
    return {
        "preprocessor_config.json": {
            "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
            "image_mean": IMAGE_MEAN, "image_processor_type": "BlipImageProcessor", "image_std": IMAGE_STD,
            "processor_class": "Blip2Processor", "resample": 3, "rescale_factor": 1 / 255,
            "size": {"height": image_size, "width": image_size},
        },
        "processor_config.json": {"num_query_tokens": num_query_tokens, "processor_class": "Blip2Processor"},
        "generation_config.json": {"_from_model_config": True, "bos_token_id": 2, "eos_token_id": eos_token_id,
                                   "pad_token_id": 1, "transformers_version": transformers_version()},
    }


def write_fixture_gguf(path, tensors: dict, meta: dict, generator: str, arch: str) -> None:
    """A fixture file of reference outputs: F32 tensors, and metadata of strings, lists of strings,
    ints and lists of ints (int32), after the generator's name and the transformers version."""
    import gguf
    import numpy as np
    from gguf import GGUFValueType

    writer = gguf.GGUFWriter(str(path), arch=arch)
    writer.add_key_value("fixture.generator", generator, GGUFValueType.STRING)
    writer.add_key_value("fixture.transformers_version", transformers_version(), GGUFValueType.STRING)
    for key, value in meta.items():
        if isinstance(value, str):
            writer.add_key_value(key, value, GGUFValueType.STRING)
        elif isinstance(value, list) and value and isinstance(value[0], str):
            writer.add_key_value(key, value, GGUFValueType.ARRAY, sub_type=GGUFValueType.STRING)
        elif isinstance(value, list):
            writer.add_key_value(key, value, GGUFValueType.ARRAY, sub_type=GGUFValueType.INT32)
        else:
            writer.add_key_value(key, value, GGUFValueType.INT32)
    for name, value in tensors.items():
        writer.add_tensor(name, np.ascontiguousarray(value, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
