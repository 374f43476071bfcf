#!/usr/bin/env python3
"""The transformers side of Tools/bench_retrieval.sh: Blip2ForImageTextRetrieval in fp32 on the CPU,
timed stage by stage as blip2-bench retrieval times ours (medians over --runs after one warm-up):

  image features  processor pixels -> vision_model -> qformer (queries) -> vision_projection -> normalize
  text features   BertTokenizer -> embeddings -> qformer (text only) -> text_projection([CLS]) -> normalize
  ITM per pair    given the image embeddings: embeddings(text, queries) -> qformer with cross-attention ->
                  itm_head, mean over queries, softmax (what the model's forward does after the vision tower)

  python Tools/bench_retrieval.py --checkpoint DIR --image IMG [--runs 5] [--threads 2]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from PIL import Image
from transformers import BertTokenizer, Blip2ForImageTextRetrieval
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

TEXT = "a red bicycle leaning against a brick wall next to a wooden door"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = Blip2ForImageTextRetrieval.from_pretrained(a.checkpoint, dtype=torch.float32).eval()
    processor = BlipImageProcessorPil.from_pretrained(a.checkpoint)
    tokenizer = BertTokenizer.from_pretrained(a.checkpoint)
    image = Image.open(a.image)
    ids = tokenizer([TEXT], return_tensors="pt")

    def image_features():
        pixels = processor(images=image, return_tensors="pt")["pixel_values"]
        embeds = model.vision_model(pixels).last_hidden_state
        q = model.qformer(query_embeds=model.query_tokens, encoder_hidden_states=embeds).last_hidden_state
        return embeds, torch.nn.functional.normalize(model.vision_projection(q), dim=-1)

    def text_features():
        t = tokenizer([TEXT], return_tensors="pt")
        h = model.qformer(query_embeds=model.embeddings(input_ids=t["input_ids"]), query_length=0,
                          attention_mask=t["attention_mask"]).last_hidden_state
        return torch.nn.functional.normalize(model.text_projection(h[:, 0, :]), dim=-1)

    def itm(embeds):
        mask = torch.cat([torch.ones(1, model.query_tokens.shape[1], dtype=torch.long), ids["attention_mask"]], dim=1)
        h = model.qformer(query_embeds=model.embeddings(input_ids=ids["input_ids"], query_embeds=model.query_tokens),
                          query_length=model.query_tokens.shape[1], attention_mask=mask,
                          encoder_hidden_states=embeds).last_hidden_state
        return model.itm_head(h[:, :model.query_tokens.shape[1], :]).mean(dim=1).softmax(dim=-1)

    times = {"image": [], "text": [], "itm": []}
    with torch.no_grad():
        embeds, _ = image_features()
        text_features()
        itm(embeds)
        for _ in range(a.runs):
            t = time.perf_counter(); embeds, _ = image_features(); times["image"].append(time.perf_counter() - t)
            t = time.perf_counter(); text_features(); times["text"].append(time.perf_counter() - t)
            t = time.perf_counter(); itm(embeds); times["itm"].append(time.perf_counter() - t)
    m = {k: statistics.median(v) for k, v in times.items()}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"transformers fp32: {a.threads} threads, {a.runs} runs, {ids['input_ids'].shape[1]} text tokens: "
          f"image features {m['image']:.3f} s, text features {m['text'] * 1e3:.1f} ms, ITM {m['itm'] * 1e3:.1f} ms per pair; "
          f"peak resident {peak:.0f} MiB")


if __name__ == "__main__":
    main()
