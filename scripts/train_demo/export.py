#!/usr/bin/python3
"""Export a training checkpoint as a Hugging Face Llama folder.

  /usr/bin/python3 export.py work/demo.pt ../../resources/models/demo [--dtype bf16|f32]

Writes config.json, generation_config.json, model.safetensors (our own writer,
see safetensors_io.py), tokenizer.model and tokenizer_config.json. The model
card (README.md) is written by hand from evaluate.py's output.
"""
import argparse
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=["bf16", "f32"], default="f32")
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "work", "tokenizer.model"))
    args = ap.parse_args()
    ck = torch.load(args.checkpoint)
    R, sd = ck["recipe"], ck["state"]
    dt = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    os.makedirs(args.out, exist_ok=True)
    tensors = {k: v.to(dt).contiguous() for k, v in sd.items()}
    safetensors_io.save(tensors, os.path.join(args.out, "model.safetensors"),
                        metadata={"format": "pt"})
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": R["hidden_size"],
        "intermediate_size": R["intermediate_size"],
        "num_hidden_layers": R["num_hidden_layers"],
        "num_attention_heads": R["num_attention_heads"],
        "num_key_value_heads": R["num_key_value_heads"],
        "head_dim": R["hidden_size"] // R["num_attention_heads"],
        "hidden_act": "silu",
        "rms_norm_eps": R["rms_norm_eps"],
        "rope_theta": R["rope_theta"],
        "rope_scaling": None,
        # the training window: RoPE positions beyond it were never trained, and
        # superlens-cli's default --ctx is min(512, max_position_embeddings)
        "max_position_embeddings": min(R["max_position_embeddings"], R["seq"]),
        "vocab_size": R["vocab_size"],
        "tie_word_embeddings": False,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "initializer_range": 0.02,
        "torch_dtype": "bfloat16" if dt == torch.bfloat16 else "float32",
        "transformers_version": "4.40.0",
        "use_cache": True,
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2, "do_sample": False,
                   "transformers_version": "4.40.0"}, f, indent=2)
        f.write("\n")
    shutil.copyfile(args.tokenizer, os.path.join(args.out, "tokenizer.model"))
    tok_cfg = {
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "model_max_length": min(R["max_position_embeddings"], R["seq"]),
        "sp_model_kwargs": {},
    }
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=2)
        f.write("\n")
    n = sum(v.numel() for v in tensors.values())
    print(f"exported {n} parameters ({args.dtype}) to {args.out}")


if __name__ == "__main__":
    main()
