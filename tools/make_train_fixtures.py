#!/usr/bin/env python3
"""Optimizer-parity fixtures for llmdbg's trainer (dev-only tool).

Runs a few torch.optim.AdamW steps (PyTorch 1.13, single-tensor path) with linear warmup +
cosine decay, global-norm clipping (torch.nn.utils.clip_grad_norm_) and llmdbg's weight-decay
groups on the committed tiny fixture models (gpt2-tiny, llama-tiny), for one fixed batch with a
loss mask, using the independent reference forward of tools/make_fixtures.py (imported, not
modified).  Writes test/train/fixtures/<model>-adamw.json with the batch, the recipe, the
per-step learning rates, losses and gradient norms, and every final weight (Hugging Face names).

    /usr/bin/python3 tools/make_train_fixtures.py [--out test/train/fixtures]

Deterministic (fixed seeds, 1 thread, deterministic algorithms).
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402  (sets deterministic torch, 1 thread)

RECIPE = dict(steps=5, batchSize=2, seqLen=6, lr=1e-2, warmup=2, minLr=1e-3, weightDecay=0.1,
              clip=0.5, beta1=0.9, beta2=0.95, eps=1e-8, seed=0)


def lr_at(step, r):
    """Same formula as src/train/schedule.ts (0-based update index)."""
    if step < r["warmup"]:
        return r["lr"] * (step + 1) / r["warmup"]
    decay_steps = r["steps"] - r["warmup"] - 1
    if decay_steps <= 0:
        return r["lr"]
    p = min(1.0, (step - r["warmup"]) / decay_steps)
    return r["minLr"] + 0.5 * (r["lr"] - r["minLr"]) * (1 + math.cos(math.pi * p))


def decayed(name):
    """llmdbg's groups: block matrices and an untied lm_head; no norms, biases or embeddings."""
    suffixes = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight",
                "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight")
    return name == "lm_head.weight" or name.endswith(suffixes)


def batch_for(cfg, seed):
    V = cfg["vocab_size"]
    g = torch.Generator().manual_seed(seed)
    B, T = RECIPE["batchSize"], RECIPE["seqLen"]
    seq = torch.randint(0, V, (B, T + 1), generator=g)
    mask = torch.ones(B, T)
    mask[1, :2] = 0  # e.g. prompt tokens of the second row
    mask[0, T - 1] = 0  # e.g. padding
    return seq[:, :T].contiguous(), seq[:, 1:].contiguous(), mask


def run(name, out_dir):
    d = os.path.join(HERE, "..", "test", "fixtures", "models", name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    P = mf.read_safetensors(os.path.join(d, "model.safetensors"))
    P = collections.OrderedDict((k, v.clone().requires_grad_(True)) for k, v in P.items())
    groups = [dict(params=[v for k, v in P.items() if decayed(k)], weight_decay=RECIPE["weightDecay"]),
              dict(params=[v for k, v in P.items() if not decayed(k)], weight_decay=0.0)]
    opt = torch.optim.AdamW(groups, lr=RECIPE["lr"], betas=(RECIPE["beta1"], RECIPE["beta2"]), eps=RECIPE["eps"],
                            foreach=False)
    ids, targets, mask = batch_for(cfg, 1234)
    lrs, losses, norms = [], [], []
    for step in range(RECIPE["steps"]):
        lr = lr_at(step, RECIPE)
        for grp in opt.param_groups:
            grp["lr"] = lr
        opt.zero_grad(set_to_none=True)
        logits = mf.fwd(P, cfg, ids)
        V = logits.shape[-1]
        nll = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction="none")
        loss = (nll * mask.reshape(-1)).sum() / mask.sum()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(P.values()), RECIPE["clip"])
        opt.step()
        lrs.append(lr)
        losses.append(float(loss))
        norms.append(float(norm))
    assert norms[0] > RECIPE["clip"], "clipping must be active in the fixture"
    final = collections.OrderedDict((k, mf.tj(v.detach())) for k, v in P.items())
    doc = collections.OrderedDict(
        model=name, recipe="__RECIPE__",
        batch=dict(ids=ids.tolist(), targets=targets.tolist(), mask=mask.tolist()),
        lrs="__LRS__", losses=mf.F32List(losses), grad_norms=mf.F32List(norms), final=final)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}-adamw.json")
    with open(path, "w") as f:
        # float32 values as 9 significant digits (exact for float32); recipe and rates as exact doubles
        text = mf.dump(doc).replace('"__RECIPE__"', json.dumps(RECIPE)).replace('"__LRS__"', json.dumps(lrs))
        f.write(text + "\n")
    print(f"{path}: losses {['%.5f' % x for x in losses]}, grad norms {['%.4f' % x for x in norms]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "test", "train", "fixtures"))
    args = ap.parse_args()
    for name in ("gpt2-tiny", "llama-tiny"):
        run(name, os.path.normpath(args.out))


if __name__ == "__main__":
    main()
