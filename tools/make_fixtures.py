#!/usr/bin/env python3
"""Golden-fixture generator for llmdbg (dev-only tool).

An independent, hand-written float32 PyTorch reference of the Hugging Face
`transformers` architectures gpt2 / llama / mistral / qwen2 (eval mode, no
dropout, eager attention).  It builds tiny random-weight models in the Hugging
Face folder layout (config.json + model.safetensors or sharded safetensors with
an index) and writes golden.json files with logits, TransformerLens-named hook
activations, greedy continuations, saliency / integrated gradients and
activation-patching results.  The TypeScript tests only read the outputs.

Needs only torch (tested with 1.13) and numpy; no `transformers`, no
`safetensors` package (the format is written by hand below).

    /usr/bin/python3 tools/make_fixtures.py [--out test/fixtures/models] [--only NAME ...] [--no-checks]

Output is byte-for-byte deterministic (fixed seeds, 1 thread, deterministic
algorithms).  See tools/README.md for the golden.json schema.
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:  # already initialised
    pass

TRANSFORMERS_VERSION = "4.46.3"
F32_MIN = float(torch.finfo(torch.float32).min)  # -3.4028234663852886e38
GREEDY_PROMPT_LEN = 3
GREEDY_NEW_TOKENS = 8
IG_STEPS = 16
MIN_MARGIN = 0.02  # min top1-top2 logit gap for every argmax we publish


# --------------------------------------------------------------------------
# Activations: the subset of transformers.activations.ACT2FN we support.
# --------------------------------------------------------------------------
def gelu_new(x):
    # NewGELUActivation (GPT-2 "gelu_new"): tanh approximation written out.
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT2FN = {
    "gelu_new": gelu_new,
    "gelu": lambda x: F.gelu(x),  # GELUActivation: exact erf form
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


# --------------------------------------------------------------------------
# Hook plumbing (TransformerLens names).  overrides: name -> fn(tensor)->tensor
# --------------------------------------------------------------------------
class Hooks:
    def __init__(self, record=False, overrides=None):
        self.rec = collections.OrderedDict() if record else None
        self.ov = overrides or {}

    def __call__(self, name, x):
        f = self.ov.get(name)
        if f is not None:
            x = f(x)
        if self.rec is not None:
            self.rec[name] = x
        return x


NO_HOOKS = Hooks()


# --------------------------------------------------------------------------
# GPT-2
# --------------------------------------------------------------------------
def conv1d(x, w, b):
    """transformers.pytorch_utils.Conv1D: weight is [in, out]."""
    out = torch.addmm(b, x.reshape(-1, x.shape[-1]), w)
    return out.view(*x.shape[:-1], w.shape[1])


def gpt2_inner(cfg):
    return cfg["n_inner"] if cfg.get("n_inner") is not None else 4 * cfg["n_embd"]


def gpt2_forward(P, cfg, ids, hk=NO_HOOKS, embed=None):
    assert not cfg.get("scale_attn_by_inverse_layer_idx", False)
    assert not cfg.get("reorder_and_upcast_attn", False)
    C, nh = cfg["n_embd"], cfg["n_head"]
    dh = C // nh
    eps = cfg["layer_norm_epsilon"]
    act = ACT2FN[cfg["activation_function"]]
    B, T = ids.shape
    wte = P["wte.weight"]
    dt = wte.dtype
    tok = F.embedding(ids, wte) if embed is None else embed
    tok = hk("hook_embed", tok)
    pos = F.embedding(torch.arange(T).unsqueeze(0), P["wpe.weight"]).expand(B, T, C)
    pos = hk("hook_pos_embed", pos)
    x = tok + pos
    causal = torch.tril(torch.ones((T, T), dtype=torch.bool)).view(1, 1, T, T)
    mask_value = torch.full([], torch.finfo(dt).min, dtype=dt)
    for L in range(cfg["n_layer"]):
        p, b = f"h.{L}.", f"blocks.{L}."
        x = hk(b + "hook_resid_pre", x)
        h = F.layer_norm(x, (C,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], eps)
        h = hk(b + "ln1.hook_normalized", h)
        qkv = conv1d(h, P[p + "attn.c_attn.weight"], P[p + "attn.c_attn.bias"])
        q, k, v = qkv.split(C, dim=2)
        q = hk(b + "attn.hook_q", q.reshape(B, T, nh, dh))
        k = hk(b + "attn.hook_k", k.reshape(B, T, nh, dh))
        v = hk(b + "attn.hook_v", v.reshape(B, T, nh, dh))
        qh, kh, vh = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        s = torch.matmul(qh, kh.transpose(-1, -2))
        if cfg.get("scale_attn_weights", True):
            s = s / torch.full([], vh.size(-1) ** 0.5, dtype=s.dtype)
        s = torch.where(causal, s, mask_value)
        s = hk(b + "attn.hook_attn_scores", s)
        pat = F.softmax(s, dim=-1)
        pat = hk(b + "attn.hook_pattern", pat)
        z = torch.matmul(pat, vh).transpose(1, 2)  # [B,T,H,Dh]
        z = hk(b + "attn.hook_z", z)
        a = conv1d(z.reshape(B, T, C), P[p + "attn.c_proj.weight"], P[p + "attn.c_proj.bias"])
        a = hk(b + "hook_attn_out", a)
        x = hk(b + "hook_resid_mid", x + a)
        h2 = F.layer_norm(x, (C,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], eps)
        h2 = hk(b + "ln2.hook_normalized", h2)
        pre = hk(b + "mlp.hook_pre", conv1d(h2, P[p + "mlp.c_fc.weight"], P[p + "mlp.c_fc.bias"]))
        post = hk(b + "mlp.hook_post", act(pre))
        m = hk(b + "hook_mlp_out", conv1d(post, P[p + "mlp.c_proj.weight"], P[p + "mlp.c_proj.bias"]))
        x = hk(b + "hook_resid_post", x + m)
    x = F.layer_norm(x, (C,), P["ln_f.weight"], P["ln_f.bias"], eps)
    x = hk("ln_final.hook_normalized", x)
    return F.linear(x, wte)  # lm_head tied to wte


def gpt2_init(cfg, g):
    C, V, Np, I = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], gpt2_inner(cfg)
    n = lambda *s, std: torch.randn(*s, generator=g) * std
    P = collections.OrderedDict()
    P["wte.weight"] = n(V, C, std=0.5)
    P["wpe.weight"] = n(Np, C, std=0.3)
    for L in range(cfg["n_layer"]):
        p = f"h.{L}."
        P[p + "ln_1.weight"] = 1.0 + n(C, std=0.1)
        P[p + "ln_1.bias"] = n(C, std=0.1)
        P[p + "attn.c_attn.weight"] = n(C, 3 * C, std=0.3)
        P[p + "attn.c_attn.bias"] = n(3 * C, std=0.1)
        P[p + "attn.c_proj.weight"] = n(C, C, std=0.2)
        P[p + "attn.c_proj.bias"] = n(C, std=0.05)
        P[p + "ln_2.weight"] = 1.0 + n(C, std=0.1)
        P[p + "ln_2.bias"] = n(C, std=0.1)
        P[p + "mlp.c_fc.weight"] = n(C, I, std=0.25)
        P[p + "mlp.c_fc.bias"] = n(I, std=0.1)
        P[p + "mlp.c_proj.weight"] = n(I, C, std=0.15)
        P[p + "mlp.c_proj.bias"] = n(C, std=0.05)
    P["ln_f.weight"] = 1.0 + n(C, std=0.1)
    P["ln_f.bias"] = n(C, std=0.1)
    return P


def gpt2_cached_step(P, cfg, cache, tok, pos):
    """Single-token decode with a KV cache and explicit per-head loops
    (independent code path, used only by the self-check)."""
    C, nh = cfg["n_embd"], cfg["n_head"]
    dh = C // nh
    eps = cfg["layer_norm_epsilon"]
    act = ACT2FN[cfg["activation_function"]]
    x = P["wte.weight"][tok] + P["wpe.weight"][pos]
    for L in range(cfg["n_layer"]):
        p = f"h.{L}."
        h = F.layer_norm(x, (C,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], eps)
        qkv = h @ P[p + "attn.c_attn.weight"] + P[p + "attn.c_attn.bias"]
        q, k, v = qkv[:C], qkv[C:2 * C], qkv[2 * C:]
        cache[L]["k"].append(k.view(nh, dh))
        cache[L]["v"].append(v.view(nh, dh))
        K = torch.stack(cache[L]["k"])  # [t, nh, dh]
        Vv = torch.stack(cache[L]["v"])
        zs = []
        for i in range(nh):
            sc = (K[:, i, :] @ q[i * dh:(i + 1) * dh]) / math.sqrt(dh)
            zs.append(torch.softmax(sc, 0) @ Vv[:, i, :])
        a = torch.cat(zs) @ P[p + "attn.c_proj.weight"] + P[p + "attn.c_proj.bias"]
        x = x + a
        h2 = F.layer_norm(x, (C,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], eps)
        m = act(h2 @ P[p + "mlp.c_fc.weight"] + P[p + "mlp.c_fc.bias"]) @ P[p + "mlp.c_proj.weight"] + P[p + "mlp.c_proj.bias"]
        x = x + m
    x = F.layer_norm(x, (C,), P["ln_f.weight"], P["ln_f.bias"], eps)
    return P["wte.weight"] @ x


# --------------------------------------------------------------------------
# Llama / Mistral / Qwen2
# --------------------------------------------------------------------------
def llama_head_dim(cfg):
    hd = cfg.get("head_dim")
    return hd if hd is not None else cfg["hidden_size"] // cfg["num_attention_heads"]


def llama_kv_heads(cfg):
    kv = cfg.get("num_key_value_heads")
    return kv if kv is not None else cfg["num_attention_heads"]


def llama_biases(cfg):
    """(q/k/v bias, o bias, mlp bias) per HF model_type semantics."""
    mt = cfg["model_type"]
    if mt == "llama":
        ab = bool(cfg.get("attention_bias", False))
        return ab, ab, bool(cfg.get("mlp_bias", False))
    if mt == "mistral":
        return False, False, False
    if mt == "qwen2":
        return True, False, False
    raise ValueError(mt)


def rope_inv_freq(cfg):
    assert cfg.get("rope_scaling") is None, "only default RoPE is implemented"
    hd = llama_head_dim(cfg)
    base = cfg.get("rope_theta", 10000.0)
    return 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))


def rope_cos_sin(cfg, T, dtype):
    inv = rope_inv_freq(cfg)
    pos = torch.arange(T).float()
    freqs = (inv[None, :, None].float() @ pos[None, None, :].float()).transpose(1, 2)  # [1,T,hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)  # [1,T,hd], computed in float32 like HF


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, nkv, t, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, nkv, n_rep, t, d).reshape(b, nkv * n_rep, t, d)


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def check_window(cfg, T):
    mt = cfg["model_type"]
    sw = cfg.get("sliding_window")
    if mt == "mistral" and sw is not None:
        assert sw >= T, "sliding window not implemented"
    if mt == "qwen2" and cfg.get("use_sliding_window"):
        assert sw is None or sw >= T, "sliding window not implemented"


def llama_forward(P, cfg, ids, hk=NO_HOOKS, embed=None):
    C, H = cfg["hidden_size"], cfg["num_attention_heads"]
    Hkv, hd = llama_kv_heads(cfg), llama_head_dim(cfg)
    n_rep = H // Hkv
    eps = cfg["rms_norm_eps"]
    act = ACT2FN[cfg["hidden_act"]]
    B, T = ids.shape
    check_window(cfg, T)
    E = P["model.embed_tokens.weight"]
    dt = E.dtype
    lin = lambda x, name: F.linear(x, P[name + ".weight"], P.get(name + ".bias"))
    x = F.embedding(ids, E) if embed is None else embed
    x = hk("hook_embed", x)
    cos, sin = rope_cos_sin(cfg, T, dt)
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # [1,1,T,hd]
    mask = torch.triu(torch.full((T, T), torch.finfo(dt).min, dtype=dt), diagonal=1)
    scaling = hd ** -0.5
    for L in range(cfg["num_hidden_layers"]):
        p, b = f"model.layers.{L}.", f"blocks.{L}."
        x = hk(b + "hook_resid_pre", x)
        h = hk(b + "ln1.hook_normalized", rms_norm(x, P[p + "input_layernorm.weight"], eps))
        q = hk(b + "attn.hook_q", lin(h, p + "self_attn.q_proj").view(B, T, H, hd))
        k = hk(b + "attn.hook_k", lin(h, p + "self_attn.k_proj").view(B, T, Hkv, hd))
        v = hk(b + "attn.hook_v", lin(h, p + "self_attn.v_proj").view(B, T, Hkv, hd))
        qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        qr = (qt * cos) + (rotate_half(qt) * sin)
        kr = (kt * cos) + (rotate_half(kt) * sin)
        qr = hk(b + "attn.hook_rot_q", qr.transpose(1, 2)).transpose(1, 2)
        kr = hk(b + "attn.hook_rot_k", kr.transpose(1, 2)).transpose(1, 2)
        ks, vs = repeat_kv(kr, n_rep), repeat_kv(vt, n_rep)
        s = torch.matmul(qr, ks.transpose(2, 3)) * scaling
        s = s + mask
        s = hk(b + "attn.hook_attn_scores", s)
        pat = hk(b + "attn.hook_pattern", F.softmax(s, dim=-1, dtype=s.dtype))
        z = hk(b + "attn.hook_z", torch.matmul(pat, vs).transpose(1, 2))  # [B,T,H,hd]
        a = hk(b + "hook_attn_out", lin(z.reshape(B, T, H * hd), p + "self_attn.o_proj"))
        x = hk(b + "hook_resid_mid", x + a)
        h2 = hk(b + "ln2.hook_normalized", rms_norm(x, P[p + "post_attention_layernorm.weight"], eps))
        g = hk(b + "mlp.hook_pre", lin(h2, p + "mlp.gate_proj"))
        u = hk(b + "mlp.hook_pre_linear", lin(h2, p + "mlp.up_proj"))
        post = hk(b + "mlp.hook_post", act(g) * u)
        m = hk(b + "hook_mlp_out", lin(post, p + "mlp.down_proj"))
        x = hk(b + "hook_resid_post", x + m)
    x = hk("ln_final.hook_normalized", rms_norm(x, P["model.norm.weight"], eps))
    W = E if cfg.get("tie_word_embeddings", False) else P["lm_head.weight"]
    return F.linear(x, W)


def llama_init(cfg, g):
    C, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    H, Hkv, hd = cfg["num_attention_heads"], llama_kv_heads(cfg), llama_head_dim(cfg)
    qkv_b, o_b, mlp_b = llama_biases(cfg)
    n = lambda *s, std: torch.randn(*s, generator=g) * std
    P = collections.OrderedDict()
    P["model.embed_tokens.weight"] = n(V, C, std=0.5)
    for L in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{L}."
        for nm, out_f, in_f, has_b, std in (
            ("self_attn.q_proj", H * hd, C, qkv_b, 0.3),
            ("self_attn.k_proj", Hkv * hd, C, qkv_b, 0.3),
            ("self_attn.v_proj", Hkv * hd, C, qkv_b, 0.25),
            ("self_attn.o_proj", C, H * hd, o_b, 0.2),
            ("mlp.gate_proj", I, C, mlp_b, 0.25),
            ("mlp.up_proj", I, C, mlp_b, 0.25),
            ("mlp.down_proj", C, I, mlp_b, 0.15),
        ):
            P[p + nm + ".weight"] = n(out_f, in_f, std=std)
            if has_b:
                P[p + nm + ".bias"] = n(out_f, std=0.1)
        P[p + "input_layernorm.weight"] = 1.0 + n(C, std=0.1)
        P[p + "post_attention_layernorm.weight"] = 1.0 + n(C, std=0.1)
    P["model.norm.weight"] = 1.0 + n(C, std=0.1)
    if not cfg.get("tie_word_embeddings", False):
        P["lm_head.weight"] = n(V, C, std=0.3)
    return P


def llama_cached_step(P, cfg, cache, tok, pos):
    """Single-token decode with KV cache, per-head loops and the pairwise
    (x1*c - x2*s, x2*c + x1*s) RoPE form (independent path for self-check)."""
    C, H = cfg["hidden_size"], cfg["num_attention_heads"]
    Hkv, hd = llama_kv_heads(cfg), llama_head_dim(cfg)
    n_rep, half = H // Hkv, hd // 2
    eps = cfg["rms_norm_eps"]
    act = ACT2FN[cfg["hidden_act"]]
    lin = lambda x, name: F.linear(x, P[name + ".weight"], P.get(name + ".bias"))
    ang = rope_inv_freq(cfg) * float(pos)
    c, s_ = ang.cos().to(P["model.norm.weight"].dtype), ang.sin().to(P["model.norm.weight"].dtype)

    def rope(vec):  # vec [n, hd]
        x1, x2 = vec[:, :half], vec[:, half:]
        return torch.cat((x1 * c - x2 * s_, x2 * c + x1 * s_), dim=1)

    x = P["model.embed_tokens.weight"][tok]
    for L in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{L}."
        h = rms_norm(x, P[p + "input_layernorm.weight"], cfg["rms_norm_eps"])
        q = rope(lin(h, p + "self_attn.q_proj").view(H, hd))
        k = rope(lin(h, p + "self_attn.k_proj").view(Hkv, hd))
        v = lin(h, p + "self_attn.v_proj").view(Hkv, hd)
        cache[L]["k"].append(k)
        cache[L]["v"].append(v)
        K, Vv = torch.stack(cache[L]["k"]), torch.stack(cache[L]["v"])  # [t,Hkv,hd]
        zs = []
        for i in range(H):
            j = i // n_rep
            sc = (K[:, j, :] @ q[i]) / math.sqrt(hd)
            zs.append(torch.softmax(sc, 0) @ Vv[:, j, :])
        x = x + lin(torch.cat(zs), p + "self_attn.o_proj")
        h2 = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(act(lin(h2, p + "mlp.gate_proj")) * lin(h2, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms_norm(x, P["model.norm.weight"], eps)
    W = P["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else P["lm_head.weight"]
    return W @ x


ARCH = {
    "gpt2": dict(forward=gpt2_forward, init=gpt2_init, step=gpt2_cached_step, embed="wte.weight",
                 layers="n_layer", heads="n_head"),
    "llama": dict(forward=llama_forward, init=llama_init, step=llama_cached_step,
                  embed="model.embed_tokens.weight", layers="num_hidden_layers", heads="num_attention_heads"),
}


def family(cfg):
    return "gpt2" if cfg["model_type"] == "gpt2" else "llama"


def fwd(P, cfg, ids, hk=NO_HOOKS, embed=None):
    return ARCH[family(cfg)]["forward"](P, cfg, ids, hk, embed)


# --------------------------------------------------------------------------
# Configs (realistic HF config.json contents)
# --------------------------------------------------------------------------
def gpt2_config(n_embd, n_head, n_layer, n_positions, vocab_size, n_inner, activation_function, **extra):
    cfg = {
        "activation_function": activation_function,
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": vocab_size - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": vocab_size - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": n_positions,
        "n_embd": n_embd,
        "n_head": n_head,
        "n_inner": n_inner,
        "n_layer": n_layer,
        "n_positions": n_positions,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    cfg.update(extra)
    return cfg


def llama_config(hidden_size, heads, kv_heads, intermediate_size, layers, vocab_size, tie,
                 head_dim=None, attention_bias=False, mlp_bias=False, rope_theta=10000.0,
                 rms_norm_eps=1e-05, torch_dtype="float32"):
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": attention_bias,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": intermediate_size,
        "max_position_embeddings": 64,
        "mlp_bias": mlp_bias,
        "model_type": "llama",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads,
        "pretraining_tp": 1,
        "rms_norm_eps": rms_norm_eps,
        "rope_scaling": None,
        "rope_theta": rope_theta,
        "tie_word_embeddings": tie,
        "torch_dtype": torch_dtype,
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    if head_dim is not None:
        cfg["head_dim"] = head_dim
    return cfg


def mistral_config(hidden_size, heads, kv_heads, intermediate_size, layers, vocab_size):
    return {
        "architectures": ["MistralForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": intermediate_size,
        "max_position_embeddings": 128,
        "model_type": "mistral",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads,
        "rms_norm_eps": 1e-05,
        "rope_theta": 1000000.0,
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def qwen2_config(hidden_size, heads, kv_heads, intermediate_size, layers, vocab_size, tie,
                 torch_dtype="float32"):
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": vocab_size - 2,
        "eos_token_id": vocab_size - 1,
        "hidden_act": "silu",
        "hidden_size": hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": intermediate_size,
        "max_position_embeddings": 256,
        "max_window_layers": layers,
        "model_type": "qwen2",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": 256,
        "tie_word_embeddings": tie,
        "torch_dtype": torch_dtype,
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab_size,
    }


SPECS = [
    dict(name="gpt2-tiny", seed=101, T=8, patching=True,
         covers="GPT-2, Conv1D [in,out] weights, gelu_new, n_inner null -> 4*n_embd, tied lm_head, patching",
         config=gpt2_config(32, 4, 2, 32, 64, None, "gelu_new")),
    dict(name="gpt2-prefixed", seed=202, T=6, prefix="transformer.", legacy_buffers=True,
         covers="GPT-2 with 'transformer.' prefix + legacy attn.bias (BOOL [1,1,16,16]) / attn.masked_bias (F32 []) buffers, "
                "exact-erf gelu, explicit n_inner=40, 3 heads",
         config=gpt2_config(24, 3, 2, 16, 50, 40, "gelu")),
    dict(name="llama-tiny", seed=303, T=7, patching=True,
         covers="Llama, GQA 4q/2kv, untied lm_head, no head_dim key (-> hidden/heads), patching",
         config=llama_config(32, 4, 2, 64, 2, 64, tie=False)),
    dict(name="llama-tied-headdim", seed=404, T=6,
         covers="Llama, tied embeddings (no lm_head.weight), head_dim=10 != 24/4, attention_bias (q,k,v,o), "
                "mlp_bias (gate,up,down), MHA (kv=4), rope_theta 5e5, rms_norm_eps 1e-6",
         config=llama_config(24, 4, 4, 40, 2, 56, tie=True, head_dim=10, attention_bias=True,
                             mlp_bias=True, rope_theta=500000.0, rms_norm_eps=1e-06)),
    dict(name="mistral-tiny", seed=505, T=8,
         covers="Mistral, MQA 4q/1kv, sliding_window null, rope_theta 1e6",
         config=mistral_config(32, 4, 1, 80, 2, 72)),
    dict(name="qwen2-tiny", seed=606, T=6,
         covers="Qwen2, q/k/v biases, no o_proj bias, GQA 4q/2kv, tied embeddings, use_sliding_window false",
         config=qwen2_config(32, 4, 2, 64, 2, 80, tie=True)),
    dict(name="llama-bf16", seed=707, T=5, storage="BF16",
         covers="Llama GQA 4q/2kv with BF16 weights (reference uses bf16 values widened to f32)",
         config=llama_config(32, 4, 2, 64, 2, 48, tie=False, torch_dtype="bfloat16")),
    dict(name="qwen2-f16", seed=808, T=7, storage="F16",
         covers="Qwen2 with F16 weights (widened to f32), untied lm_head, 3 layers, MQA 2q/1kv, d_model 16",
         config=qwen2_config(16, 2, 1, 48, 3, 64, tie=False, torch_dtype="float16")),
    dict(name="llama-sharded", seed=909, T=8, shards=2,
         covers="Llama sharded across 2 safetensors files + model.safetensors.index.json, GQA 6q/2kv (n_rep 3), 3 layers",
         config=llama_config(48, 6, 2, 96, 3, 96, tie=False)),
]


# --------------------------------------------------------------------------
# safetensors writer / reader (hand-written)
# --------------------------------------------------------------------------
ST_DTYPES = {"F32": (np.dtype("<f4"), 4), "F16": (np.dtype("<f2"), 2), "BF16": (np.dtype("<i2"), 2),
             "BOOL": (np.dtype("u1"), 1)}


def tensor_bytes(t, dtype):
    if dtype == "F32":
        return t.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return t.to(torch.float16).contiguous().numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        return t.to(torch.bfloat16).contiguous().view(torch.int16).numpy().astype("<i2").tobytes()
    if dtype == "BOOL":
        return t.to(torch.bool).contiguous().numpy().astype("u1").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, entries):
    """entries: list of (name, tensor, dtype); data is written contiguously in this order."""
    header = collections.OrderedDict()
    header["__metadata__"] = {"format": "pt"}
    blobs, off = [], 0
    for name, t, dt in entries:
        blob = tensor_bytes(t, dt)
        esz = ST_DTYPES[dt][1]
        assert len(blob) == t.numel() * esz and off % esz == 0
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((-len(hj)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for blob in blobs:
            f.write(blob)
    return off


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    out, expect = collections.OrderedDict(), 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        assert b == expect, "data must be contiguous in header order"
        expect = e
        npdt, esz = ST_DTYPES[info["dtype"]]
        arr = np.frombuffer(data[b:e], dtype=npdt).reshape(info["shape"])
        t = torch.from_numpy(arr.copy())
        if info["dtype"] == "BF16":
            t = t.view(torch.bfloat16)
        elif info["dtype"] == "BOOL":
            t = t.to(torch.bool)
        out[name] = t.float() if info["dtype"] != "BOOL" else t
    assert expect == len(data)
    return out


# --------------------------------------------------------------------------
# JSON output (float32 values with 9 significant digits)
# --------------------------------------------------------------------------
class F32List(list):
    pass


def fnum(x):
    v = float(np.float32(x))
    assert math.isfinite(v), x
    return "%.9g" % v


def tj(t):
    t = t.detach().to(torch.float32).contiguous()
    return collections.OrderedDict(shape=list(t.shape), data=F32List(t.reshape(-1).tolist()))


def dump(o, ind=0):
    pad, pad1 = "  " * ind, "  " * (ind + 1)
    if isinstance(o, dict):
        if "shape" in o and "data" in o and len(o) == 2:
            return '{"shape": %s, "data": %s}' % (json.dumps(o["shape"]), dump(o["data"]))
        items = [pad1 + json.dumps(k) + ": " + dump(v, ind + 1) for k, v in o.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(o, F32List):
        return "[" + ",".join(fnum(x) for x in o) + "]"
    if isinstance(o, (list, tuple)):
        if all(isinstance(x, int) and not isinstance(x, bool) for x in o):
            return json.dumps(list(o))
        return "[" + ", ".join(dump(x, ind + 1) for x in o) + "]"
    if isinstance(o, float):
        return fnum(o)
    return json.dumps(o)


# --------------------------------------------------------------------------
# Golden computations
# --------------------------------------------------------------------------
def margin(logits_vec):
    top = torch.topk(logits_vec, 2).values
    return float(top[0] - top[1])


def greedy_full(P, cfg, prompt, n_new):
    seq, steps = list(prompt), []
    for _ in range(n_new):
        lg = fwd(P, cfg, torch.tensor([seq]))[0, -1]
        steps.append(lg)
        seq.append(int(torch.argmax(lg)))
    return seq, steps


def greedy_cached(P, cfg, prompt, n_new):
    step = ARCH[family(cfg)]["step"]
    nl = cfg[ARCH[family(cfg)]["layers"]]
    cache = [{"k": [], "v": []} for _ in range(nl)]
    pos = 0
    lg = None
    for tok in prompt:
        lg = step(P, cfg, cache, tok, pos)
        pos += 1
    seq, steps = list(prompt), []
    for i in range(n_new):
        steps.append(lg)
        seq.append(int(torch.argmax(lg)))
        if i < n_new - 1:
            lg = step(P, cfg, cache, seq[-1], pos)
            pos += 1
    return seq, steps


def target_logprob(P, cfg, ids, embed, target):
    lg = fwd(P, cfg, ids, embed=embed)
    return F.log_softmax(lg[:, -1], dim=-1)[:, target]


def saliency(P, cfg, ids):
    E = P[ARCH[family(cfg)]["embed"]]
    with torch.no_grad():
        logits = fwd(P, cfg, ids)
    target = int(torch.argmax(logits[0, -1]))
    emb = F.embedding(ids, E).detach().clone().requires_grad_(True)
    lp = target_logprob(P, cfg, ids, emb, target)[0]
    (grad,) = torch.autograd.grad(lp, emb)
    # Integrated gradients, Captum riemann_trapezoid, zero baseline on hook_embed.
    n = IG_STEPS
    alphas = torch.linspace(0, 1, n).tolist()
    step_sizes = [1 / (n - 1)] * n
    step_sizes[0] = step_sizes[-1] = 0.5 / (n - 1)
    x = emb.detach()
    base = torch.zeros_like(x)
    scaled = torch.cat([base + a * (x - base) for a in alphas], dim=0).requires_grad_(True)  # [n,T,C]
    lps = target_logprob(P, cfg, ids.expand(n, -1), scaled, target)
    (g_all,) = torch.autograd.grad(lps.sum(), scaled)
    scaled_grads = g_all.contiguous().view(n, -1) * torch.tensor(step_sizes).view(n, 1)
    total = scaled_grads.reshape((n, 1) + tuple(x.shape[1:])).sum(0)  # [1,T,C]
    attr = total * (x - base)
    ig = attr.sum(-1)[0]
    with torch.no_grad():
        f_in = float(target_logprob(P, cfg, ids, x, target)[0])
        f_base = float(target_logprob(P, cfg, ids, base, target)[0])
    return dict(target=target, logprob=float(lp), grad=grad, ig=ig, f_in=f_in, f_base=f_base,
                target_margin=margin(logits[0, -1]))


def patching(P, cfg, clean, corrupt):
    fam = ARCH[family(cfg)]
    nl = cfg[fam["layers"]]
    T = clean.shape[1]
    with torch.no_grad():
        hk = Hooks(record=True)
        clean_logits = fwd(P, cfg, clean, hk)
        corrupt_logits = fwd(P, cfg, corrupt)
        res = torch.zeros(nl, T, clean_logits.shape[-1])
        for L in range(nl):
            cval = hk.rec[f"blocks.{L}.hook_resid_pre"]
            for p in range(T):
                def patch(x, p=p, cval=cval):
                    x = x.clone()
                    x[:, p] = cval[:, p]
                    return x
                lg = fwd(P, cfg, corrupt, Hooks(overrides={f"blocks.{L}.hook_resid_pre": patch}))
                res[L, p] = lg[0, -1]

        def ablate(z):
            z = z.clone()
            z[:, :, 1, :] = 0
            return z
        abl = fwd(P, cfg, clean, Hooks(overrides={"blocks.0.attn.hook_z": ablate}))[0, -1]
    same = (clean[0] == corrupt[0]).tolist()
    for p in range(T):  # layer-0 resid_pre at an unchanged position is identical in both runs
        if same[p]:
            require(torch.equal(res[0, p], corrupt_logits[0, -1]), "patching L0 unchanged position")
    require((abl - clean_logits[0, -1]).abs().max() > 1e-3, "head ablation has an effect")
    return collections.OrderedDict(
        clean_ids=clean.tolist(), corrupt_ids=corrupt.tolist(),
        clean_last_logits=tj(clean_logits[0, -1]), corrupt_last_logits=tj(corrupt_logits[0, -1]),
        resid_pre_patch_last_logits=tj(res), ablate_L0H1_last_logits=tj(abl))


def expected_hook_shapes(cfg, T):
    fam = family(cfg)
    if fam == "gpt2":
        C, H, nl = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
        Hkv, Dh, dm = H, C // H, gpt2_inner(cfg)
    else:
        C, H, nl = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
        Hkv, Dh, dm = llama_kv_heads(cfg), llama_head_dim(cfg), cfg["intermediate_size"]
    s = collections.OrderedDict()
    s["hook_embed"] = [1, T, C]
    if fam == "gpt2":
        s["hook_pos_embed"] = [1, T, C]
    for L in range(nl):
        b = f"blocks.{L}."
        s[b + "hook_resid_pre"] = [1, T, C]
        s[b + "ln1.hook_normalized"] = [1, T, C]
        s[b + "attn.hook_q"] = [1, T, H, Dh]
        s[b + "attn.hook_k"] = [1, T, Hkv, Dh]
        s[b + "attn.hook_v"] = [1, T, Hkv, Dh]
        if fam != "gpt2":
            s[b + "attn.hook_rot_q"] = [1, T, H, Dh]
            s[b + "attn.hook_rot_k"] = [1, T, Hkv, Dh]
        s[b + "attn.hook_attn_scores"] = [1, H, T, T]
        s[b + "attn.hook_pattern"] = [1, H, T, T]
        s[b + "attn.hook_z"] = [1, T, H, Dh]
        s[b + "hook_attn_out"] = [1, T, C]
        s[b + "hook_resid_mid"] = [1, T, C]
        s[b + "ln2.hook_normalized"] = [1, T, C]
        s[b + "mlp.hook_pre"] = [1, T, dm]
        if fam != "gpt2":
            s[b + "mlp.hook_pre_linear"] = [1, T, dm]
        s[b + "mlp.hook_post"] = [1, T, dm]
        s[b + "hook_mlp_out"] = [1, T, C]
        s[b + "hook_resid_post"] = [1, T, C]
    s["ln_final.hook_normalized"] = [1, T, C]
    return s


def choose_prompts(P, cfg, T, seed):
    """Deterministically draw prompts until every published argmax has a clear margin."""
    V = cfg["vocab_size"]
    g = torch.Generator().manual_seed(seed)
    for attempt in range(200):
        ids = torch.randint(0, V, (1, T), generator=g)
        other = torch.randint(0, V, (1, T), generator=g)
        with torch.no_grad():
            m_last = margin(fwd(P, cfg, ids)[0, -1])
            _, steps = greedy_full(P, cfg, ids[0, :GREEDY_PROMPT_LEN].tolist(), GREEDY_NEW_TOKENS)
        if m_last >= MIN_MARGIN and min(margin(s) for s in steps) >= MIN_MARGIN:
            return ids, torch.cat([other, ids], 0), attempt
    raise RuntimeError("could not find prompts with clear argmax margins")


def corrupt_of(ids, V, seed, n_changes):
    g = torch.Generator().manual_seed(seed)
    T = ids.shape[1]
    c = ids.clone()
    positions = [1, T - 3][:n_changes]
    for p in positions:
        c[0, p] = (int(c[0, p]) + 1 + int(torch.randint(0, V - 1, (1,), generator=g))) % V
        assert int(c[0, p]) != int(ids[0, p])
    return c


# --------------------------------------------------------------------------
# Sanity / self-checks
# --------------------------------------------------------------------------
class CheckError(AssertionError):
    pass


def require(cond, msg):
    if not cond:
        raise CheckError(msg)


def sanity_checks(P, cfg, ids, batch_ids, hooks, logits, batch_logits):
    fam = family(cfg)
    nl = cfg[ARCH[fam]["layers"]]
    T = ids.shape[1]
    for name, shape in expected_hook_shapes(cfg, T).items():
        require(list(hooks[name].shape) == shape, f"{name}: {list(hooks[name].shape)} != {shape}")
    require(list(hooks.keys()) == list(expected_hook_shapes(cfg, T).keys()), "hook set/order")
    upper = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for L in range(nl):
        b = f"blocks.{L}."
        pat, sc = hooks[b + "attn.hook_pattern"], hooks[b + "attn.hook_attn_scores"]
        require(torch.allclose(pat.sum(-1), torch.ones(()), atol=1e-5), "pattern rows sum to 1")
        require(bool((sc[..., upper] == F32_MIN).all()), "masked scores == finfo.min")
        require(bool((pat[..., upper] == 0).all()), "masked pattern == 0")
        require(bool((sc[..., ~upper] > -1e4).all()), "unmasked scores finite")
        require(torch.equal(hooks[b + "hook_resid_mid"], hooks[b + "hook_resid_pre"] + hooks[b + "hook_attn_out"]), "resid_mid")
        require(torch.equal(hooks[b + "hook_resid_post"], hooks[b + "hook_resid_mid"] + hooks[b + "hook_mlp_out"]), "resid_post")
        if L + 1 < nl:
            require(torch.equal(hooks[f"blocks.{L + 1}.hook_resid_pre"], hooks[b + "hook_resid_post"]), "resid chain")
        if fam != "gpt2":
            # position 0 has angle 0: RoPE is the identity there
            require(torch.allclose(hooks[b + "attn.hook_rot_q"][:, 0], hooks[b + "attn.hook_q"][:, 0]), "rope pos0")
            require(not torch.allclose(hooks[b + "attn.hook_rot_q"][:, 1:], hooks[b + "attn.hook_q"][:, 1:]), "rope applied")
        # attention must be non-trivial (neither one-hot nor uniform everywhere)
        require(float(pat[..., -1, :].max()) < 0.999, "pattern not one-hot")
    r0 = hooks["blocks.0.hook_resid_pre"]
    emb = hooks["hook_embed"] + (hooks["hook_pos_embed"] if fam == "gpt2" else 0)
    require(torch.equal(r0, emb), "resid_pre0 = embed (+ pos_embed)")
    require((batch_logits[1] - logits[0]).abs().max() < 1e-4, f"batch row 1 == ids ({float((batch_logits[1] - logits[0]).abs().max()):.2e})")
    require(float(logits.std()) > 0.5, f"logits vary (std {float(logits.std()):.3f})")
    # every bias is actually in the computational path
    biases = [k for k in P if k.endswith(".bias")]
    if biases:
        P0 = dict(P)
        for k in biases:
            P0[k] = torch.zeros_like(P[k])
        with torch.no_grad():
            require((fwd(P0, cfg, ids) - logits).abs().max() > 1e-3, "biases matter")
    # GQA: head groups really share k/v (q heads 0 and n_rep-1 use kv head 0)
    if fam != "gpt2":
        require(hooks["blocks.0.attn.hook_k"].shape[2] == llama_kv_heads(cfg), "kv heads")


def self_checks(P, cfg, ids, seed):
    """Catch mistakes in the reference itself. Returns a short report string."""
    prompt = ids[0, :GREEDY_PROMPT_LEN].tolist()
    with torch.no_grad():
        seq_full, steps_full = greedy_full(P, cfg, prompt, GREEDY_NEW_TOKENS)
        seq_c, steps_c = greedy_cached(P, cfg, prompt, GREEDY_NEW_TOKENS)
    require(seq_full == seq_c, f"KV-cached greedy {seq_c} != full recompute {seq_full}")
    kv_err = max(float((a - b).abs().max()) for a, b in zip(steps_full, steps_c))
    require(kv_err < 1e-4, f"KV-cached logits differ by {kv_err}")
    # float64 finite difference of d logprob / d embed along a random direction
    P64 = {k: v.double() for k, v in P.items()}
    E = P64[ARCH[family(cfg)]["embed"]]
    with torch.no_grad():
        target = int(torch.argmax(fwd(P64, cfg, ids)[0, -1]))
    x = F.embedding(ids, E).detach().clone().requires_grad_(True)
    (g64,) = torch.autograd.grad(target_logprob(P64, cfg, ids, x, target)[0], x)
    gd = torch.Generator().manual_seed(seed)
    d = torch.randn(x.shape, generator=gd, dtype=torch.float64)
    eps = 1e-5
    with torch.no_grad():
        fp = float(target_logprob(P64, cfg, ids, x + eps * d, target)[0])
        fm = float(target_logprob(P64, cfg, ids, x - eps * d, target)[0])
    fd = (fp - fm) / (2 * eps)
    an = float((g64 * d).sum())
    fd_rel = abs(fd - an) / max(1.0, abs(an))
    require(fd_rel < 1e-6, f"finite difference {fd} vs autograd {an}")
    # the float32 saliency gradient agrees with the float64 one
    g32 = saliency(P, cfg, ids)["grad"]
    g_rel = float((g32.double() - g64).abs().max() / g64.abs().max())
    require(g_rel < 1e-4, f"f32 vs f64 saliency grad rel err {g_rel}")
    # float32 reference agrees with float64 reference
    with torch.no_grad():
        l32, l64 = fwd(P, cfg, ids), fwd(P64, cfg, ids)
    f64_err = float((l32.double() - l64).abs().max())
    require(f64_err < 1e-3, f"f32 vs f64 logits {f64_err}")
    return (f"kv-cache max|dlogit|={kv_err:.1e}, fd rel err={fd_rel:.1e}, "
            f"f32-vs-f64 max|dlogit|={f64_err:.1e}, grad rel={g_rel:.1e}")


# --------------------------------------------------------------------------
# Fixture builder
# --------------------------------------------------------------------------
def build(spec, out_root, run_checks):
    name, cfg, T, seed = spec["name"], spec["config"], spec["T"], spec["seed"]
    fam = family(cfg)
    storage = spec.get("storage", "F32")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    P = ARCH[fam]["init"](cfg, g)
    # Round to the storage dtype; the reference computes with the widened values.
    if storage == "BF16":
        P = collections.OrderedDict((k, v.to(torch.bfloat16).to(torch.float32)) for k, v in P.items())
    elif storage == "F16":
        P = collections.OrderedDict((k, v.to(torch.float16).to(torch.float32)) for k, v in P.items())

    d = os.path.join(out_root, name)
    os.makedirs(d, exist_ok=True)
    for fn in os.listdir(d):
        if fn.endswith(".safetensors") or fn.endswith(".json"):
            os.remove(os.path.join(d, fn))
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")

    # ---- weights
    prefix = spec.get("prefix", "")
    entries = []
    for k, v in P.items():
        entries.append((prefix + k, v, storage))
        if spec.get("legacy_buffers") and k.endswith("ln_1.bias"):
            L = k.split(".")[1]
            Np = cfg["n_positions"]
            entries.append((f"{prefix}h.{L}.attn.bias", torch.tril(torch.ones(Np, Np, dtype=torch.bool)).view(1, 1, Np, Np), "BOOL"))
            entries.append((f"{prefix}h.{L}.attn.masked_bias", torch.tensor(-1e4), "F32"))
    n_shards = spec.get("shards", 1)
    files = []
    if n_shards == 1:
        files.append(("model.safetensors", entries))
    else:
        total = sum(t.numel() * ST_DTYPES[dt][1] for _, t, dt in entries)
        shards, cur, acc = [], [], 0
        for e in entries:
            cur.append(e)
            acc += e[1].numel() * ST_DTYPES[e[2]][1]
            if acc >= total * (len(shards) + 1) / n_shards and len(shards) < n_shards - 1:
                shards.append(cur)
                cur = []
        shards.append(cur)
        assert len(shards) == n_shards and all(shards)
        for i, sh in enumerate(shards):
            files.append((f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors", sh))
        index = {"metadata": {"total_size": total},
                 "weight_map": {e[0]: fn for fn, sh in files for e in sh}}
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    for fn, sh in files:
        write_safetensors(os.path.join(d, fn), sh)

    # round-trip: what we wrote is what the reference computes with
    back = collections.OrderedDict()
    for fn, _ in files:
        back.update(read_safetensors(os.path.join(d, fn)))
    for k, v in P.items():
        require(torch.equal(back.pop(prefix + k), v), f"round-trip {k}")
    require(all(k.endswith("attn.bias") or k.endswith("attn.masked_bias") for k in back), f"extra tensors {list(back)}")

    # ---- golden
    ids, batch_ids, attempts = choose_prompts(P, cfg, T, seed + 1)
    with torch.no_grad():
        hk = Hooks(record=True)
        logits = fwd(P, cfg, ids, hk)
        batch_logits = fwd(P, cfg, batch_ids)
    sanity_checks(P, cfg, ids, batch_ids, hk.rec, logits, batch_logits)
    prompt = ids[0, :GREEDY_PROMPT_LEN].tolist()
    with torch.no_grad():
        gseq, gsteps = greedy_full(P, cfg, prompt, GREEDY_NEW_TOKENS)
    sal = saliency(P, cfg, ids)
    report = self_checks(P, cfg, ids, seed + 2) if run_checks else "self-checks skipped"

    golden = collections.OrderedDict()
    golden["model"] = name
    golden["ids"] = ids.tolist()
    golden["batch_ids"] = batch_ids.tolist()
    golden["logits"] = tj(logits)
    golden["hooks"] = collections.OrderedDict((k, tj(v)) for k, v in hk.rec.items())
    golden["batch_logits"] = tj(batch_logits)
    golden["greedy"] = collections.OrderedDict(prompt=prompt, new_tokens=GREEDY_NEW_TOKENS, ids=gseq)
    golden["saliency"] = collections.OrderedDict(
        target_id=sal["target"], logprob=sal["logprob"], grad_embed=tj(sal["grad"]),
        integrated_gradients=collections.OrderedDict(
            method="riemann_trapezoid", n_steps=IG_STEPS, baseline="zeros",
            ig_trapezoid_16=tj(sal["ig"]), f_input=sal["f_in"], f_baseline=sal["f_base"]))
    if spec.get("patching"):
        corrupt = corrupt_of(ids, cfg["vocab_size"], seed + 3, 1 if fam == "gpt2" else 2)
        golden["patching"] = patching(P, cfg, ids, corrupt)
    with open(os.path.join(d, "golden.json"), "w") as f:
        f.write(dump(golden) + "\n")

    sizes = {fn: os.path.getsize(os.path.join(d, fn)) for fn in sorted(os.listdir(d))}
    nparams = sum(v.numel() for v in P.values())
    ig_sum = float(sal["ig"].sum())
    print(f"{name:20s} {fam:5s} {cfg['model_type']:7s} params={nparams:6d} T={T} "
          f"logit-std={float(logits.std()):.2f} prompt-draws={attempts + 1} "
          f"target={sal['target']} margin={sal['target_margin']:.3f} "
          f"IG sum={ig_sum:+.3f} vs f_in-f_base={sal['f_in'] - sal['f_base']:+.3f}")
    print(f"{'':20s} {report}")
    print(f"{'':20s} " + ", ".join(f"{k} {v / 1024:.1f}K" for k, v in sizes.items()))
    return sum(sizes.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "test", "fixtures", "models"))
    ap.add_argument("--only", nargs="*", help="fixture names to (re)build")
    ap.add_argument("--no-checks", action="store_true", help="skip the reference self-checks")
    args = ap.parse_args()
    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)
    total = 0
    for spec in SPECS:
        if args.only and spec["name"] not in args.only:
            continue
        total += build(spec, out, not args.no_checks)
    print(f"total {total / 1024:.1f} KiB written under {out}")


if __name__ == "__main__":
    try:
        main()
    except CheckError as e:
        print(f"CHECK FAILED: {e}", file=sys.stderr)
        sys.exit(1)
