"""Captions a folder of images on a Dask cluster through the blip2_edge module: one model per
worker process (loaded on its first task, memory-mapped, so workers on one host share the
weights' pages), results written as JSON Lines as they finish.

  pip install "dask[distributed]"
  python Examples/python/dask_captions.py --model blip2-opt-2.7b.q4 --images photos/ --out captions.jsonl \
      [--scheduler tcp://host:8786 | --local-workers 2] [--threads-per-model 2] [--greedy]

With --scheduler, the workers must reach the model file at the same path (a shared disk, or a copy
on each machine) and import blip2_edge (python/ of this repository on PYTHONPATH, and
libblip2_edge.so installed or named by BLIP2_EDGE_LIBRARY). Each line of the output:
{"image": path, "caption": text} or {"image": path, "error": message} for an image that failed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "python"))

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".pgm"}


def caption_on_worker(path: str, model_path: str, threads: int, greedy: bool) -> dict:
    """Runs on a worker: the process's one model, made on first use."""
    import blip2_edge
    from distributed import get_worker

    worker = get_worker()
    model = getattr(worker, "blip2_model", None)
    if model is None:
        model = blip2_edge.Model(model_path, threads=threads)
        worker.blip2_model = model
    try:
        text = model.caption(path, greedy=True) if greedy else model.caption(path)
        return {"image": path, "caption": text}
    except blip2_edge.Blip2Error as e:
        return {"image": path, "error": str(e)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--images", required=True, type=Path, help="a folder (not searched recursively)")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--scheduler", help="address of a running scheduler")
    parser.add_argument("--local-workers", type=int, default=2, help="without --scheduler: worker processes here")
    parser.add_argument("--threads-per-model", type=int, default=1)
    parser.add_argument("--greedy", action="store_true", help="one beam instead of LAVIS's five")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster, as_completed

    paths = sorted(str(p) for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        print(f"dask_captions: no images in {args.images}", file=sys.stderr)
        return 1
    model_path = os.path.abspath(args.model)
    cluster = None if args.scheduler else LocalCluster(n_workers=args.local_workers, threads_per_worker=1,
                                                        processes=True, dashboard_address=None)
    failures = 0
    with Client(args.scheduler or cluster) as client:
        futures = client.map(caption_on_worker, paths, model_path=model_path, threads=args.threads_per_model,
                             greedy=args.greedy, pure=False)
        tmp = args.out.with_name(args.out.name + ".part")
        with open(tmp, "w", encoding="utf-8") as out:
            for future in as_completed(futures):
                line = future.result()
                failures += "error" in line
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        tmp.replace(args.out)  # complete or absent: never a half-written file under the final name
    if cluster is not None:
        cluster.close()
    print(f"dask_captions: {len(paths)} images, {failures} failed -> {args.out}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
