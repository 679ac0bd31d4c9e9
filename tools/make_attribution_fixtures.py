#!/usr/bin/env python3
"""Reference values for llmdbg's gradient debugging (dev-only tool).

Reads committed fixture models (test/fixtures/models/) and runs the independent PyTorch
reference forward of tools/make_fixtures.py in float64 to compute, for the TypeScript tests of
src/methods/attribution and src/methods/gradients:

- saliency (L2, L1), input x gradient, integrated gradients for every Captum rule
  (riemann_left/right/middle/trapezoid, gausslegendre via numpy.polynomial.legendre.leggauss)
  with zero, token and custom-ids baselines, SmoothGrad and VarGrad with the SAME noise as the
  TypeScript side (xoshiro128** seeded by SplitMix32, 53-bit uniforms, Box-Muller; re-implemented
  here from its definition), occlusion with zero and token replacements;
- a contrastive target (top prediction minus the runner-up) and a whole continuation (one row of
  scores per continuation token over every earlier token, with IG completeness per row);
- gradient norms of the cross-entropy of the prompt at every hook point (zero probes added to
  each activation) and for every parameter tensor (named as llmdbg's fused layout).

    /usr/bin/python3 tools/make_attribution_fixtures.py [--out test/fixtures/attribution]

Deterministic; writes <model>.json. Non-goal: new models (it reads the committed ones).
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402  (reference forward and hooks; not modified)

MODELS = ["gpt2-tiny", "llama-tiny", "qwen2-tiny"]
RULES = ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"]
IG_STEPS = 8
TOKEN_BASELINE = 2
NOISE = dict(samples=4, noise=0.2, seed=7)
CONT_NOISE = dict(samples=3, noise=0.1, seed=11)
M32 = 0xFFFFFFFF

torch.set_default_dtype(torch.float64)


# --------------------------------------------------------------------------
# The project's PRNG (src/engine/rng.ts) and Gaussian stream (src/methods/attribution/noise.ts)
# --------------------------------------------------------------------------
def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Rng:
    def __init__(self, seed):
        c = seed & M32
        words = []
        for _ in range(4):
            c = (c + 0x9E3779B9) & M32
            z = c
            z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
            z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
            z = (z ^ (z >> 16)) & M32
            words.append(z)
        self.s = words

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (rotl((s1 * 5) & M32, 7) * 9) & M32
        t = (s1 << 9) & M32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 11)
        self.s = [s0, s1, s2, s3]
        return result

    def float(self):
        hi = self.next() >> 5
        lo = self.next() >> 6
        return (hi * 67108864 + lo) / 9007199254740992.0


def gaussian(seed, n):
    rng, out = Rng(seed), []
    while len(out) < n:
        u1, u2 = rng.float(), rng.float()
        r = math.sqrt(-2.0 * math.log(1.0 - u1))
        th = 2.0 * math.pi * u2
        out.append(r * math.cos(th))
        out.append(r * math.sin(th))
    # float32 like the TypeScript Float32Array
    return torch.tensor(np.array(out[:n], dtype=np.float32).astype(np.float64))


# --------------------------------------------------------------------------
# Captum's integration rules (captum/attr/_utils/approximation_methods.py)
# --------------------------------------------------------------------------
def quadrature(rule, n):
    if rule == "gausslegendre":
        x, w = np.polynomial.legendre.leggauss(n)
        return list(0.5 * (1 + x)), list(0.5 * w)
    deltas = [1 / n] * n
    if rule == "riemann_trapezoid":
        deltas[0] /= 2
        deltas[-1] /= 2
        return list(np.linspace(0, 1, n)), deltas
    if rule == "riemann_left":
        return list(np.linspace(0, 1 - 1 / n, n)), deltas
    if rule == "riemann_middle":
        return list(np.linspace(1 / (2 * n), 1 - 1 / (2 * n), n)), deltas
    if rule == "riemann_right":
        return list(np.linspace(1 / n, 1, n)), deltas
    raise ValueError(rule)


# --------------------------------------------------------------------------
# Objective and methods
# --------------------------------------------------------------------------
def load(name):
    d = os.path.join(HERE, "..", "test", "fixtures", "models", name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    P = mf.read_safetensors(os.path.join(d, "model.safetensors"))
    P = collections.OrderedDict((k, v.double()) for k, v in P.items())
    with open(os.path.join(d, "golden.json")) as f:
        golden = json.load(f)
    return cfg, P, golden


def embed_table(P, cfg):
    return P[mf.ARCH[mf.family(cfg)]["embed"]]


def objective(P, cfg, sources, rows, terms):
    """rows [n,T,C] -> values [n,G]; term = (position, target, foil or None)."""
    n = rows.shape[0]
    ids = torch.tensor([sources]).expand(n, -1)
    lp = F.log_softmax(mf.fwd(P, cfg, ids, embed=rows), dim=-1)
    cols = []
    for pos, tgt, foil in terms:
        v = lp[:, pos, tgt]
        if foil is not None:
            v = v - lp[:, pos, foil]
        cols.append(v)
    return torch.stack(cols, dim=1)


def grads(P, cfg, sources, rows, terms):
    """Per term: gradient [n,T,C] of each row's value; and values [n,G]."""
    rows = rows.detach().clone().requires_grad_(True)
    vals = objective(P, cfg, sources, rows, terms)
    out = []
    for g in range(len(terms)):
        (gr,) = torch.autograd.grad(vals[:, g].sum(), rows, retain_graph=True)
        out.append(gr)
    return out, vals.detach()


def values(P, cfg, sources, rows, terms):
    with torch.no_grad():
        return objective(P, cfg, sources, rows, terms)


def emb_of(P, cfg, ids):
    return F.embedding(torch.tensor([ids]), embed_table(P, cfg)).detach()


def saliency(P, cfg, sources, terms, norm):
    x = emb_of(P, cfg, sources)
    gs, _ = grads(P, cfg, sources, x, terms)
    return [(g[0].norm(dim=-1) if norm == "l2" else g[0].abs().sum(-1)) for g in gs]


def input_x_gradient(P, cfg, sources, terms):
    x = emb_of(P, cfg, sources)
    gs, _ = grads(P, cfg, sources, x, terms)
    return [(g[0] * x[0]).sum(-1) for g in gs]


def integrated(P, cfg, sources, terms, rule, n, base):
    x = emb_of(P, cfg, sources)
    alphas, weights = quadrature(rule, n)
    rows = torch.cat([base + a * (x - base) for a in alphas], dim=0)
    gs, _ = grads(P, cfg, sources, rows, terms)
    w = torch.tensor(weights).view(n, 1, 1)
    scores = [((g * w).sum(0) * (x - base)[0]).sum(-1) for g in gs]
    f_in = values(P, cfg, sources, x, terms)[0]
    f_base = values(P, cfg, sources, base, terms)[0]
    return scores, f_in, f_base


def noisy(P, cfg, sources, terms, samples, noise, seed):
    x = emb_of(P, cfg, sources)
    scale = float(embed_table(P, cfg).std(unbiased=False))
    sigma = noise * scale
    T, C = x.shape[1], x.shape[2]
    eps = gaussian(seed, samples * T * C).view(samples, T, C)
    rows = x + sigma * eps
    gs, _ = grads(P, cfg, sources, rows, terms)
    smooth = [g.mean(0).norm(dim=-1) for g in gs]
    var = [(g.pow(2).mean(0) - g.mean(0).pow(2)).clamp(min=0).sum(-1) for g in gs]
    return smooth, var, sigma


def occlusion(P, cfg, sources, terms, replacement):
    x = emb_of(P, cfg, sources)
    T = x.shape[1]
    f_in = values(P, cfg, sources, x, terms)[0]
    rows = x.repeat(T, 1, 1)
    for t in range(T):
        rows[t, t] = replacement[0, t]
    v = values(P, cfg, sources, rows, terms)  # [T, G]
    return [f_in[g] - v[:, g] for g in range(len(terms))]


def token_rows(P, cfg, tok, T):
    return emb_of(P, cfg, [tok] * T)


# --------------------------------------------------------------------------
# Gradient norms at hook points and parameters (cross-entropy of the prompt)
# --------------------------------------------------------------------------
class ProbeHooks(mf.Hooks):
    def __init__(self):
        super().__init__(record=True)
        self.probes = collections.OrderedDict()

    def __call__(self, name, x):
        p = torch.zeros_like(x, requires_grad=True)
        self.probes[name] = p
        x = x + p
        self.rec[name] = x
        return x


def internal_param_groups(cfg, P):
    """llmdbg parameter name -> HF tensor names whose gradients it fuses."""
    out = collections.OrderedDict()
    if mf.family(cfg) == "gpt2":
        out["wte"] = ["wte.weight"]
        out["wpe"] = ["wpe.weight"]
        for L in range(cfg["n_layer"]):
            h = f"h.{L}."
            for ours, theirs in [("ln1.w", "ln_1.weight"), ("ln1.b", "ln_1.bias"), ("wQKV", "attn.c_attn.weight"),
                                 ("bQKV", "attn.c_attn.bias"), ("wO", "attn.c_proj.weight"), ("bO", "attn.c_proj.bias"),
                                 ("ln2.w", "ln_2.weight"), ("ln2.b", "ln_2.bias"), ("wIn", "mlp.c_fc.weight"),
                                 ("bIn", "mlp.c_fc.bias"), ("wOut", "mlp.c_proj.weight"), ("bOut", "mlp.c_proj.bias")]:
                out[f"layers.{L}.{ours}"] = [h + theirs]
        out["lnF.w"] = ["ln_f.weight"]
        out["lnF.b"] = ["ln_f.bias"]
        return out
    out["wte"] = ["model.embed_tokens.weight"]
    for L in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{L}."
        groups = [("ln1.w", ["input_layernorm.weight"]),
                  ("wQKV", ["self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"]),
                  ("bQKV", ["self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias"]),
                  ("wO", ["self_attn.o_proj.weight"]), ("bO", ["self_attn.o_proj.bias"]),
                  ("ln2.w", ["post_attention_layernorm.weight"]),
                  ("wIn", ["mlp.gate_proj.weight", "mlp.up_proj.weight"]),
                  ("bIn", ["mlp.gate_proj.bias", "mlp.up_proj.bias"]),
                  ("wOut", ["mlp.down_proj.weight"]), ("bOut", ["mlp.down_proj.bias"])]
        for ours, theirs in groups:
            names = [p + t for t in theirs if p + t in P]
            if names:
                out[f"layers.{L}.{ours}"] = names
    out["lnF.w"] = ["model.norm.weight"]
    if "lm_head.weight" in P:
        out["wU"] = ["lm_head.weight"]
    return out


def gradient_norms(P, cfg, ids):
    Pg = collections.OrderedDict((k, v.detach().clone().requires_grad_(True)) for k, v in P.items())
    hk = ProbeHooks()
    ids_t = torch.tensor([ids])
    lg = mf.fwd(Pg, cfg, ids_t, hk)
    loss = F.cross_entropy(lg[0, :-1], ids_t[0, 1:])
    names = list(hk.probes)
    groups = internal_param_groups(cfg, Pg)
    flat = [hk.probes[n] for n in names] + [Pg[t] for ts in groups.values() for t in ts]
    gs = torch.autograd.grad(loss, flat, allow_unused=True)
    hooks = collections.OrderedDict()
    for i, n in enumerate(names):
        act = hk.rec[n].detach()
        act = torch.where(act > -1e38, act, torch.zeros_like(act))  # masked attention scores count as 0
        hooks[n] = dict(grad_norm=float(gs[i].norm()), act_norm=float(act.norm()), grad_x_act=float((gs[i] * act).sum()))
    params, k = collections.OrderedDict(), len(names)
    for ours, ts in groups.items():
        sq = 0.0
        for _ in ts:
            g = gs[k]
            k += 1
            sq += 0.0 if g is None else float(g.pow(2).sum())
        params[ours] = math.sqrt(sq)
    return dict(loss=float(loss), hooks=hooks, params=params)


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def fl(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().reshape(-1).tolist()
    return [float("%.10g" % v) for v in t]


def build(name, out_dir):
    cfg, P, golden = load(name)
    ids = golden["ids"][0]
    T = len(ids)
    V = embed_table(P, cfg).shape[0]
    with torch.no_grad():
        last = mf.fwd(P, cfg, torch.tensor([ids]))[0, -1]
    top2 = torch.topk(last, 2).indices.tolist()
    target, foil = top2[0], top2[1]
    single = [(T - 1, target, None)]
    zero = torch.zeros_like(emb_of(P, cfg, ids))
    custom_ids = [(i * 5 + 1) % V for i in range(T)]

    res = collections.OrderedDict(model=name, ids=ids, target_id=target, foil_id=foil,
                                  token_baseline=TOKEN_BASELINE, custom_baseline_ids=custom_ids)
    res["saliency_l2"] = fl(saliency(P, cfg, ids, single, "l2")[0])
    res["saliency_l1"] = fl(saliency(P, cfg, ids, single, "l1")[0])
    res["input_x_gradient"] = fl(input_x_gradient(P, cfg, ids, single)[0])
    ig = collections.OrderedDict()
    for rule in RULES:
        s, fi, fb = integrated(P, cfg, ids, single, rule, IG_STEPS, zero)
        ig[rule] = dict(steps=IG_STEPS, baseline="zero", scores=fl(s[0]), f_input=float(fi[0]), f_baseline=float(fb[0]))
    s, fi, fb = integrated(P, cfg, ids, single, "gausslegendre", IG_STEPS, token_rows(P, cfg, TOKEN_BASELINE, T))
    ig["gausslegendre_token"] = dict(steps=IG_STEPS, baseline=f"token {TOKEN_BASELINE}", scores=fl(s[0]), f_input=float(fi[0]), f_baseline=float(fb[0]))
    s, fi, fb = integrated(P, cfg, ids, single, "riemann_middle", IG_STEPS, emb_of(P, cfg, custom_ids))
    ig["riemann_middle_ids"] = dict(steps=IG_STEPS, baseline="ids", scores=fl(s[0]), f_input=float(fi[0]), f_baseline=float(fb[0]))
    res["integrated_gradients"] = ig
    sm, var, sigma = noisy(P, cfg, ids, single, **NOISE)
    res["smoothgrad"] = dict(NOISE, sigma=sigma, scores_l2=fl(sm[0]))
    res["vargrad"] = dict(NOISE, sigma=sigma, scores=fl(var[0]))
    res["occlusion_zero"] = fl(occlusion(P, cfg, ids, single, zero)[0])
    res["occlusion_token"] = fl(occlusion(P, cfg, ids, single, token_rows(P, cfg, TOKEN_BASELINE, T))[0])

    contrast = [(T - 1, target, foil)]
    s, fi, fb = integrated(P, cfg, ids, contrast, "gausslegendre", IG_STEPS, zero)
    res["contrastive"] = dict(
        saliency_l2=fl(saliency(P, cfg, ids, contrast, "l2")[0]),
        input_x_gradient=fl(input_x_gradient(P, cfg, ids, contrast)[0]),
        ig_gausslegendre=fl(s[0]), f_input=float(fi[0]), f_baseline=float(fb[0]),
        occlusion_token=fl(occlusion(P, cfg, ids, contrast, token_rows(P, cfg, TOKEN_BASELINE, T))[0]))

    Pn = T // 2
    prompt, cont = ids[:Pn], ids[Pn:]
    sources = ids[:-1]
    terms = [(Pn - 1 + g, cont[g], None) for g in range(len(cont))]
    rag = lambda rows: [fl(r[: Pn + g]) for g, r in enumerate(rows)]  # noqa: E731
    zc = torch.zeros_like(emb_of(P, cfg, sources))
    igs, fi, fb = integrated(P, cfg, sources, terms, "gausslegendre", IG_STEPS, zc)
    sm, var, sigma = noisy(P, cfg, sources, terms, **CONT_NOISE)
    res["continuation"] = dict(
        prompt=prompt, continuation=cont,
        saliency_l2=rag(saliency(P, cfg, sources, terms, "l2")),
        input_x_gradient=rag(input_x_gradient(P, cfg, sources, terms)),
        ig_gausslegendre=rag(igs), f_input=fl(fi), f_baseline=fl(fb),
        smoothgrad=dict(CONT_NOISE, sigma=sigma, scores_l2=rag(sm)),
        occlusion_token=rag(occlusion(P, cfg, sources, terms, token_rows(P, cfg, TOKEN_BASELINE, len(sources)))))
    res["gradients"] = gradient_norms(P, cfg, ids)

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    ig_gl = ig["gausslegendre"]
    print(f"{name:12s} T={T} target={target} foil={foil} IG-GL{IG_STEPS} sum={sum(ig_gl['scores']):+.4f} "
          f"vs f_in-f_base={ig_gl['f_input'] - ig_gl['f_baseline']:+.4f} -> {path} ({os.path.getsize(path) / 1024:.1f} KiB)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "test", "fixtures", "attribution"))
    args = ap.parse_args()
    for name in MODELS:
        build(name, os.path.normpath(args.out))


if __name__ == "__main__":
    main()
