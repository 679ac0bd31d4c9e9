#!/usr/bin/env python3
"""Golden fixtures for llmdbg's attention-debugging methods (dev-only tool).

Reads the committed gpt2-tiny and llama-tiny fixture models (test/fixtures/models/) and runs the
independent PyTorch reference of tools/make_fixtures.py with hook overrides to produce what the
TypeScript tests of src/methods/{patching,interventions,lens} compare against:
per-head attention-output patching, MLP-output and attention-output patching per layer and
position, causal tracing with given Gaussian noise, mean ablation, attention pattern/score edits
with renormalisation, the logit lens and direct logit attribution.

    /usr/bin/python3 tools/make_patching_fixtures.py [--out test/fixtures/patching]

Writes <model>.json per model (same tensor format as golden.json). Deterministic (fixed seeds).
Non-goal: covering every architecture (the forward itself is covered by make_fixtures.py).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402  (reference forward, hooks, JSON writer; not modified)

MODELS = ["gpt2-tiny", "llama-tiny"]
F32_MIN = mf.F32_MIN


def load(name):
    d = os.path.join(HERE, "..", "test", "fixtures", "models", name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    P = mf.read_safetensors(os.path.join(d, "model.safetensors"))
    with open(os.path.join(d, "golden.json")) as f:
        golden = json.load(f)
    return cfg, P, golden


def dims(cfg):
    fam = mf.family(cfg)
    if fam == "gpt2":
        C, H, nl = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
        return fam, C, H, H, C // H, nl
    H = cfg["num_attention_heads"]
    return fam, cfg["hidden_size"], H, mf.llama_kv_heads(cfg), mf.llama_head_dim(cfg), cfg["num_hidden_layers"]


def run(P, cfg, ids, overrides=None, record=False):
    hk = mf.Hooks(record=record, overrides=overrides or {})
    with torch.no_grad():
        logits = mf.fwd(P, cfg, ids, hk)
    return logits, hk.rec


def replace_at(cval, p=None, head=None):
    """Override that copies cval into x at position p (axis 1) and/or head (axis 2)."""
    def f(x):
        x = x.clone()
        if head is None:
            x[:, p] = cval[:, p]
        elif p is None:
            x[:, :, head] = cval[:, :, head]
        else:
            x[:, p, head] = cval[:, p, head]
        return x
    return f


def sweep(P, cfg, corrupt, clean_rec, site, nl, T):
    out = torch.zeros(nl, T, cfg["vocab_size"])
    for L in range(nl):
        name = f"blocks.{L}.{site}"
        for p in range(T):
            lg, _ = run(P, cfg, corrupt, {name: replace_at(clean_rec[name], p=p)})
            out[L, p] = lg[0, -1]
    return out


def final_norm(P, cfg, x):
    if mf.family(cfg) == "gpt2":
        return F.layer_norm(x, (x.shape[-1],), P["ln_f.weight"], P["ln_f.bias"], cfg["layer_norm_epsilon"])
    return mf.rms_norm(x, P["model.norm.weight"], cfg["rms_norm_eps"])


def unembed(P, cfg):
    if mf.family(cfg) == "gpt2" or cfg.get("tie_word_embeddings", False):
        return P["wte.weight"] if mf.family(cfg) == "gpt2" else P["model.embed_tokens.weight"]
    return P["lm_head.weight"]


def head_out_weight(P, cfg, L, h, dh):
    """Rows of the output projection that head h writes through: [dh, C]."""
    if mf.family(cfg) == "gpt2":
        return P[f"h.{L}.attn.c_proj.weight"][h * dh:(h + 1) * dh, :]
    return P[f"model.layers.{L}.self_attn.o_proj.weight"][:, h * dh:(h + 1) * dh].t()


def build(name):
    cfg, P, golden = load(name)
    fam, C, H, Hkv, dh, nl = dims(cfg)
    V = cfg["vocab_size"]
    pg = golden["patching"]
    clean = torch.tensor(pg["clean_ids"])
    corrupt = torch.tensor(pg["corrupt_ids"])
    T = clean.shape[1]
    clean_logits, crec = run(P, cfg, clean, record=True)
    corrupt_logits, _ = run(P, cfg, corrupt)
    out = collections.OrderedDict()
    out["model"] = name
    out["clean_ids"] = clean.tolist()
    out["corrupt_ids"] = corrupt.tolist()

    # ---- activation patching (corrupt run, clean value restored)
    hp = torch.zeros(nl, H, V)
    for L in range(nl):
        nm = f"blocks.{L}.attn.hook_z"
        for h in range(H):
            lg, _ = run(P, cfg, corrupt, {nm: replace_at(crec[nm], head=h)})
            hp[L, h] = lg[0, -1]
    out["head_patch_last_logits"] = mf.tj(hp)
    L1, p1, h1 = nl - 1, T - 1, 1
    nm = f"blocks.{L1}.attn.hook_z"
    lg, _ = run(P, cfg, corrupt, {nm: replace_at(crec[nm], p=p1, head=h1)})
    out["head_pos_patch"] = collections.OrderedDict(layer=L1, pos=p1, head=h1, last_logits=mf.tj(lg[0, -1]))
    out["mlp_patch_last_logits"] = mf.tj(sweep(P, cfg, corrupt, crec, "hook_mlp_out", nl, T))
    out["attn_out_patch_last_logits"] = mf.tj(sweep(P, cfg, corrupt, crec, "hook_attn_out", nl, T))

    # ---- causal tracing: Gaussian noise on the token embeddings of chosen positions, restore resid_pre
    g = torch.Generator().manual_seed(4242)
    noised = [0, 1]
    noise = torch.randn(len(noised), C, generator=g) * 0.8

    def add_noise(x):
        x = x.clone()
        for i, p in enumerate(noised):
            x[:, p] = x[:, p] + noise[i]
        return x
    noisy_logits, _ = run(P, cfg, clean, {"hook_embed": add_noise})
    ct = torch.zeros(nl, T, V)
    for L in range(nl):
        nm = f"blocks.{L}.hook_resid_pre"
        for p in range(T):
            lg, _ = run(P, cfg, clean, {"hook_embed": add_noise, nm: replace_at(crec[nm], p=p)})
            ct[L, p] = lg[0, -1]
    out["causal_trace"] = collections.OrderedDict(
        positions=noised, noise=mf.tj(noise), noisy_last_logits=mf.tj(noisy_logits[0, -1]),
        restore_resid_pre_last_logits=mf.tj(ct))

    # ---- mean ablation of head 1 in layer 0 over reference prompts (mean over every reference token)
    g = torch.Generator().manual_seed(777)
    ref = torch.randint(0, V, (3, T), generator=g)
    _, rrec = run(P, cfg, ref, record=True)
    mean_z = rrec["blocks.0.attn.hook_z"][:, :, 1, :].reshape(-1, dh).mean(0)

    def mean_ablate(z):
        z = z.clone()
        z[:, :, 1, :] = mean_z
        return z
    lg, _ = run(P, cfg, clean, {"blocks.0.attn.hook_z": mean_ablate})
    out["mean_ablation"] = collections.OrderedDict(
        reference_ids=ref.tolist(), layer=0, head=1, mean_z=mf.tj(mean_z), last_logits=mf.tj(lg[0, -1]))

    # ---- attention edits
    def scale_renorm(pat):  # layer 1, head 0: keys {1} scaled by 3 for every query, rows renormalised
        pat = pat.clone()
        pat[:, 0, :, 1] = pat[:, 0, :, 1] * 3.0
        pat[:, 0] = pat[:, 0] / pat[:, 0].sum(-1, keepdim=True)
        return pat
    lg1, rec1 = run(P, cfg, clean, {"blocks.1.attn.hook_pattern": scale_renorm}, record=True)

    def zero_renorm(pat):  # layer 0, heads 0 and 2: key 0 zeroed for queries >= 1, rows renormalised
        pat = pat.clone()
        for h in (0, 2):
            pat[:, h, 1:, 0] = 0.0
            pat[:, h, 1:] = pat[:, h, 1:] / pat[:, h, 1:].sum(-1, keepdim=True)
        return pat
    lg2, _ = run(P, cfg, clean, {"blocks.0.attn.hook_pattern": zero_renorm})

    def mask_scores(s):  # layer 0, head 3: keys {0, 2} masked for the last query
        s = s.clone()
        s[:, 3, T - 1, 0] = F32_MIN
        s[:, 3, T - 1, 2] = F32_MIN
        return s
    lg3, _ = run(P, cfg, clean, {"blocks.0.attn.hook_attn_scores": mask_scores})

    def set_pattern(pat):  # layer 0, all heads: query 5 attends only to key 2 (set 0 everywhere, then 1)
        pat = pat.clone()
        pat[:, :, 5, :] = 0.0
        pat[:, :, 5, 2] = 1.0
        return pat
    lg4, _ = run(P, cfg, clean, {"blocks.0.attn.hook_pattern": set_pattern})
    out["pattern_edits"] = collections.OrderedDict(
        scale_renorm_last_logits=mf.tj(lg1[0, -1]),
        scale_renorm_pattern=mf.tj(rec1["blocks.1.attn.hook_pattern"][0, 0]),
        zero_renorm_last_logits=mf.tj(lg2[0, -1]),
        mask_scores_last_logits=mf.tj(lg3[0, -1]),
        set_pattern_last_logits=mf.tj(lg4[0, -1]))

    # ---- logit lens: resid_pre of every layer and the last resid_post, through the final norm and unembedding
    W = unembed(P, cfg)
    resids = [crec[f"blocks.{L}.hook_resid_pre"] for L in range(nl)] + [crec[f"blocks.{nl - 1}.hook_resid_post"]]
    with torch.no_grad():
        lens = torch.stack([F.linear(final_norm(P, cfg, r), W)[0] for r in resids])  # [nl+1, T, V]
    mf.require(torch.allclose(lens[-1], clean_logits[0], atol=1e-5), "lens at the last layer == logits")
    out["logit_lens"] = mf.tj(lens)

    # ---- direct logit attribution at the last position for the clean argmax
    target = int(torch.argmax(clean_logits[0, -1]))
    x_final = crec[f"blocks.{nl - 1}.hook_resid_post"][0, -1]  # [C]
    if fam == "gpt2":
        eps = cfg["layer_norm_epsilon"]
        scale = torch.sqrt(((x_final - x_final.mean()) ** 2).mean() + eps)
        wn = P["ln_f.weight"]
        proj = lambda v: float((((v - v.mean()) / scale) * wn) @ W[target])
        const = float(P["ln_f.bias"] @ W[target])
    else:
        eps = cfg["rms_norm_eps"]
        scale = torch.sqrt((x_final ** 2).mean() + eps)
        wn = P["model.norm.weight"]
        proj = lambda v: float(((v / scale) * wn) @ W[target])
        const = 0.0
    heads = torch.zeros(nl, H)
    mlps = torch.zeros(nl)
    attn_bias = torch.zeros(nl)
    for L in range(nl):
        z = crec[f"blocks.{L}.attn.hook_z"][0, -1]  # [H, dh]
        for h in range(H):
            heads[L, h] = proj(z[h] @ head_out_weight(P, cfg, L, h, dh))
        mlps[L] = proj(crec[f"blocks.{L}.hook_mlp_out"][0, -1])
        if fam == "gpt2":
            attn_bias[L] = proj(P[f"h.{L}.attn.c_proj.bias"])
    embed = proj(crec["hook_embed"][0, -1])
    pos_embed = proj(crec["hook_pos_embed"][0, -1]) if fam == "gpt2" else 0.0
    total = float(heads.sum() + mlps.sum() + attn_bias.sum()) + embed + pos_embed + const
    mf.require(abs(total - float(clean_logits[0, -1, target])) < 1e-3, f"DLA sums to the logit ({total})")
    out["dla"] = collections.OrderedDict(
        target=target, position=T - 1, heads=mf.tj(heads), mlps=mf.tj(mlps), attn_bias=mf.tj(attn_bias),
        embed=embed, pos_embed=pos_embed, norm_bias=const, logit=float(clean_logits[0, -1, target]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "test", "fixtures", "patching"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in MODELS:
        o = build(name)
        path = os.path.join(args.out, f"{name}.json")
        with open(path, "w") as f:
            f.write(mf.dump(o) + "\n")
        print(f"{name}: {os.path.getsize(path) / 1024:.1f} KiB -> {os.path.normpath(path)}")


if __name__ == "__main__":
    try:
        main()
    except mf.CheckError as e:
        print(f"CHECK FAILED: {e}", file=sys.stderr)
        sys.exit(1)
