#!/usr/bin/env python3
"""PyTorch baseline for bench/runtime.ts: the same model file, the same prompt ids, the same work.

A standalone, hand-written float32 forward of Hugging Face GPT-2 and Llama (GQA, RoPE, tied or
untied head) that reads model.safetensors by hand (8-byte LE header length, JSON header, raw data)
and times, at each thread count given (torch's and OpenBLAS's pools), medians over repeats of:
  prefill   forward of the N prompt tokens, logits of the last position only
  decode    greedy decoding with a KV cache, M one-token steps after the prefill (tokens/s)
  saliency  forward + backward of log p(target | prompt) at the last position w.r.t. the token embeddings
  ig        integrated gradients: zero baseline, S alphas in one batch, forward + backward
and prints ONE JSON object on stdout (timings, peak RSS after each phase, numbers to cross-check).
Non-goals: sharded checkpoints, sliding windows, rope scaling, bias variants beyond GPT-2's.

    /usr/bin/python3 bench/torch_baseline.py --model DIR --ids 1,2,3 [--decode 32] [--repeats 3]
        [--threads 1,2] [--ig-steps 32] [--phases prefill,decode,saliency,ig]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None}


def blas_thread_setter():
    """openblas_set_num_threads of the OpenBLAS that torch uses, or None. torch.set_num_threads does
    not reach OpenBLAS's own pthread pool, so without this a "1 thread" run still uses every core in GEMMs."""
    import ctypes
    import ctypes.util
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas"), "libblas.so.3"):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            fn = lib.openblas_set_num_threads
            fn.argtypes = [ctypes.c_int]
            return fn
        except (OSError, AttributeError):
            continue
    return None


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def load_safetensors(path: str) -> dict[str, torch.Tensor]:
    """Tensors as float32 views into one buffer holding the file (no copy for F32)."""
    size = os.path.getsize(path)
    buf = bytearray(size)
    with open(path, "rb") as f:
        f.readinto(buf)
    (n,) = struct.unpack("<Q", bytes(buf[:8]))
    header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dt, shape = info["dtype"], info["shape"]
        count = int(np.prod(shape)) if shape else 1
        if dt == "F32":
            arr = np.frombuffer(buf, dtype=np.float32, count=count, offset=base + a)
            t = torch.from_numpy(arr)
        elif dt == "F16":
            t = torch.from_numpy(np.frombuffer(buf, dtype=np.float16, count=count, offset=base + a).astype(np.float32))
        elif dt == "BF16":
            u = np.frombuffer(buf, dtype=np.uint16, count=count, offset=base + a).astype(np.uint32) << 16
            t = torch.from_numpy(u.view(np.float32))
        else:
            raise SystemExit(f"torch_baseline: {path}: tensor {name} has unsupported dtype {dt}")
        assert b - a == count * np.dtype(np.float32 if dt == "F32" else np.uint16).itemsize
        out[name] = t.reshape(shape)
    return out


# --------------------------------------------------------------------------------------------
# Models: forward(embeds [B,T,C], past, offset) -> (hidden [B,T,C], new past)
# --------------------------------------------------------------------------------------------
def attend(q, k, v, offset):
    """q [B,H,T,D], k/v [B,H,S,D] (S = offset + T): causal softmax attention, float32 min mask."""
    T, S, D = q.shape[2], k.shape[2], q.shape[3]
    s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D)
    if T > 1:
        keep = torch.arange(S).view(1, S) <= (offset + torch.arange(T)).view(T, 1)
        s = s.masked_fill(~keep, torch.finfo(s.dtype).min)
    return torch.matmul(torch.softmax(s, dim=-1), v)


class GPT2:
    def __init__(self, P, cfg):
        pre = "transformer." if "transformer.wte.weight" in P else ""
        self.P = {k[len(pre):] if k.startswith(pre) else k: v for k, v in P.items()}
        self.C, self.H, self.L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        assert cfg.get("activation_function", "gelu_new") == "gelu_new", "only gelu_new is implemented"
        self.wte = self.P["wte.weight"]
        self.head = self.P.get("lm_head.weight", self.wte) if not cfg.get("tie_word_embeddings", True) else self.wte

    def embed(self, ids):
        return F.embedding(ids, self.wte)

    def forward(self, x, past, offset):
        P, C, H = self.P, self.C, self.H
        B, T, _ = x.shape
        D = C // H
        x = x + self.P["wpe.weight"][offset:offset + T].unsqueeze(0)
        new = []
        for i in range(self.L):
            p = f"h.{i}."
            h = F.layer_norm(x, (C,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], self.eps)
            qkv = torch.addmm(P[p + "attn.c_attn.bias"], h.reshape(-1, C), P[p + "attn.c_attn.weight"]).view(B, T, 3, H, D)
            q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))  # [B,H,T,D]
            if past is not None:
                k, v = torch.cat([past[i][0], k], 2), torch.cat([past[i][1], v], 2)
            new.append((k, v))
            z = attend(q, k, v, offset).transpose(1, 2).reshape(-1, C)
            x = x + torch.addmm(P[p + "attn.c_proj.bias"], z, P[p + "attn.c_proj.weight"]).view(B, T, C)
            h2 = F.layer_norm(x, (C,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], self.eps)
            m = torch.addmm(P[p + "mlp.c_fc.bias"], h2.reshape(-1, C), P[p + "mlp.c_fc.weight"])
            m = 0.5 * m * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (m + 0.044715 * torch.pow(m, 3.0))))
            x = x + torch.addmm(P[p + "mlp.c_proj.bias"], m, P[p + "mlp.c_proj.weight"]).view(B, T, C)
        x = F.layer_norm(x, (C,), P["ln_f.weight"], P["ln_f.bias"], self.eps)
        return x, new

    def logits(self, h):
        return F.linear(h, self.head)


class Llama:
    def __init__(self, P, cfg):
        self.P = P
        self.C, self.L = cfg["hidden_size"], cfg["num_hidden_layers"]
        self.H = cfg["num_attention_heads"]
        self.K = cfg.get("num_key_value_heads") or self.H
        self.D = cfg.get("head_dim") or self.C // self.H
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.theta = cfg.get("rope_theta", 10000.0)
        assert cfg.get("hidden_act", "silu") in ("silu", "swish"), "only silu is implemented"
        assert not cfg.get("attention_bias") and not cfg.get("mlp_bias"), "biases are not implemented"
        self.wte = P["model.embed_tokens.weight"]
        self.head = self.wte if cfg.get("tie_word_embeddings", False) else P["lm_head.weight"]
        self.inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.D, 2, dtype=torch.int64).float() / self.D))

    def embed(self, ids):
        return F.embedding(ids, self.wte)

    def rms(self, x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def rope(self, x, cos, sin):
        h = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., h:], x[..., :h]], -1) * sin

    def forward(self, x, past, offset):
        P, H, K, D = self.P, self.H, self.K, self.D
        B, T, C = x.shape
        ang = torch.arange(offset, offset + T).float()[:, None] * self.inv_freq[None, :]
        emb = torch.cat([ang, ang], -1)
        cos, sin = emb.cos(), emb.sin()  # [T, D]
        new = []
        for i in range(self.L):
            p = f"model.layers.{i}."
            h = self.rms(x, P[p + "input_layernorm.weight"])
            q = F.linear(h, P[p + "self_attn.q_proj.weight"]).view(B, T, H, D).transpose(1, 2)
            k = F.linear(h, P[p + "self_attn.k_proj.weight"]).view(B, T, K, D).transpose(1, 2)
            v = F.linear(h, P[p + "self_attn.v_proj.weight"]).view(B, T, K, D).transpose(1, 2)
            q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
            if past is not None:
                k, v = torch.cat([past[i][0], k], 2), torch.cat([past[i][1], v], 2)
            new.append((k, v))
            kr, vr = k.repeat_interleave(H // K, 1), v.repeat_interleave(H // K, 1)  # HF repeat_kv
            z = attend(q, kr, vr, offset).transpose(1, 2).reshape(B, T, H * D)
            x = x + F.linear(z, P[p + "self_attn.o_proj.weight"])
            h2 = self.rms(x, P[p + "post_attention_layernorm.weight"])
            g = F.linear(h2, P[p + "mlp.gate_proj.weight"])
            u = F.linear(h2, P[p + "mlp.up_proj.weight"])
            x = x + F.linear(F.silu(g) * u, P[p + "mlp.down_proj.weight"])
        return self.rms(x, P["model.norm.weight"]), new

    def logits(self, h):
        return F.linear(h, self.head)


def build(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    P = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    mt = cfg.get("model_type")
    if mt == "gpt2":
        return GPT2(P, cfg), cfg
    if mt in ("llama", "mistral", "qwen2"):
        return Llama(P, cfg), cfg
    raise SystemExit(f"torch_baseline: model_type {mt!r} is not implemented")


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------
def timed(fn, repeats):
    """Wall ms and process CPU ms (all threads) of each run, after one warm-up run."""
    fn()
    ts, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return ts, cpu


def last_logits(m, ids):
    h, past = m.forward(m.embed(ids), None, 0)
    return m.logits(h[:, -1:, :])[:, 0, :], past


def prefill(m, ids):
    with torch.no_grad():
        return last_logits(m, ids)[0]


def decode(m, ids, steps):
    """Prefill (untimed) then `steps` greedy one-token steps; returns (ms of the steps, generated ids)."""
    with torch.no_grad():
        logits, past = last_logits(m, ids)
        tok = int(logits[0].argmax())
        out = [tok]
        c0, t0 = time.process_time(), time.perf_counter()
        offset = ids.shape[1]
        for _ in range(steps):
            h, past = m.forward(m.embed(torch.tensor([[tok]])), past, offset)
            offset += 1
            tok = int(m.logits(h[:, -1, :])[0].argmax())
            out.append(tok)
        return (time.perf_counter() - t0) * 1000.0, (time.process_time() - c0) * 1000.0, out


def saliency(m, ids, target):
    e = m.embed(ids).detach().requires_grad_(True)
    h, _ = m.forward(e, None, 0)
    lp = torch.log_softmax(m.logits(h[:, -1, :]), -1)[0, target]
    lp.backward()
    return float(lp), e.grad


def integrated_gradients(m, ids, target, steps):
    """Zero baseline, alphas = linspace(0, 1, steps), Captum trapezoid weights, one batch of `steps` rows."""
    e = m.embed(ids).detach()  # [1,T,C]
    alphas = torch.linspace(0, 1, steps)
    x = (alphas.view(-1, 1, 1) * e).requires_grad_(True)  # [S,T,C]
    h, _ = m.forward(x, None, 0)
    lp = torch.log_softmax(m.logits(h[:, -1, :]), -1)[:, target]  # [S]
    lp.sum().backward()
    w = torch.full((steps,), 1.0 / steps)  # Captum's riemann_trapezoid weights (sum 1 - 1/steps), as llmdbg's
    w[0] = w[-1] = 0.5 / steps
    avg = (w.view(-1, 1, 1) * x.grad).sum(0, keepdim=True)  # [1,T,C]
    attr = (e * avg).sum(-1)[0]  # [T]
    return attr, float(lp[-1]), float(lp[0])


def med(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True, help="comma-separated prompt token ids")
    ap.add_argument("--decode", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--ig-steps", type=int, default=32)
    ap.add_argument("--phases", default="prefill,decode,saliency,ig")
    a = ap.parse_args()
    phases = [p for p in a.phases.split(",") if p]
    for p in phases:
        if p not in ("prefill", "decode", "saliency", "ig"):
            raise SystemExit(f"torch_baseline: unknown phase {p!r}")
    torch.manual_seed(0)
    rss0 = rss_peak_mb()
    t0 = time.perf_counter()
    m, cfg = build(a.model)
    load_ms = (time.perf_counter() - t0) * 1000.0
    ids = torch.tensor([[int(x) for x in a.ids.split(",")]], dtype=torch.int64)
    memory = {"start": rss0, "load": rss_peak_mb()}  # peak RSS (MB) of this process after each phase, cumulative
    by_threads = {}
    check = {}
    set_blas_threads = blas_thread_setter()
    for n in [int(x) for x in a.threads.split(",")]:
        torch.set_num_threads(n)
        if set_blas_threads:
            set_blas_threads(n)
        r = {"threads": torch.get_num_threads(), "blas_threads_set": bool(set_blas_threads)}
        logits = prefill(m, ids)
        target = int(logits[0].argmax())
        check.update(prefill_top_id=target, prefill_top_logit=float(logits[0, target]),
                     prefill_logsumexp=float(torch.logsumexp(logits[0], 0)))
        if "prefill" in phases:
            ts, cpu = timed(lambda: prefill(m, ids), a.repeats)
            r["prefill_ms"] = {"median": med(ts), "all": ts, "cpu_median": med(cpu)}
            memory[f"prefill@{n}"] = rss_peak_mb()
        if "decode" in phases and a.decode > 0:
            runs = [decode(m, ids, a.decode) for _ in range(a.repeats + 1)][1:]  # first run warms up
            rates = [a.decode / (ms / 1000.0) for ms, _, _ in runs]
            cpu_rates = [a.decode / (c / 1000.0) for _, c, _ in runs]
            r["decode_tok_s"] = {"median": med(rates), "all": rates, "cpu_median": med(cpu_rates)}
            check["greedy_ids"] = runs[0][2]
            memory[f"decode@{n}"] = rss_peak_mb()
        if "saliency" in phases:
            ts, cpu = timed(lambda: saliency(m, ids, target), a.repeats)
            lp, g = saliency(m, ids, target)
            r["saliency_ms"] = {"median": med(ts), "all": ts, "cpu_median": med(cpu)}
            check.update(saliency_logprob=lp, saliency_grad_norm=float(g.norm()), saliency_grad_row_norms=[float(x) for x in g[0].norm(dim=-1)])
            memory[f"saliency@{n}"] = rss_peak_mb()
        if "ig" in phases:
            reps = max(1, min(a.repeats, 2))
            ts, cpu = timed(lambda: integrated_gradients(m, ids, target, a.ig_steps), reps)
            attr, f_in, f_base = integrated_gradients(m, ids, target, a.ig_steps)
            r["ig_ms"] = {"median": med(ts), "all": ts, "cpu_median": med(cpu), "steps": a.ig_steps, "batch": a.ig_steps}
            check.update(ig_attr=[float(x) for x in attr], ig_f_input=f_in, ig_f_baseline=f_base)
            memory[f"ig@{n}"] = rss_peak_mb()
        by_threads[str(n)] = r
    best = {}
    for key, better in (("prefill_ms", min), ("saliency_ms", min), ("ig_ms", min), ("decode_tok_s", max)):
        cands = [(r[key]["median"], t) for t, r in by_threads.items() if key in r]
        if cands:
            v, t = better(cands)
            best[key] = {"value": v, "threads": int(t)}
    print(json.dumps({
        "tool": "torch_baseline", "torch": torch.__version__, "python": platform.python_version(),
        "model": a.model, "model_type": cfg.get("model_type"),
        "parameters": sum(int(t.numel()) for t in m.P.values()) if hasattr(m, "P") else None,
        "prompt_len": ids.shape[1], "decode": a.decode, "repeats": a.repeats, "ig_steps": a.ig_steps,
        "load_ms": load_ms, "by_threads": by_threads, "best": best,
        "peak_rss_mb_after": memory, "check": check,
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")},
    }))


if __name__ == "__main__":
    main()
