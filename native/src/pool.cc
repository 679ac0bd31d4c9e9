// pool.cc — a tiny fork-join thread pool for the element-wise kernels.
//
// Purpose: run `ntasks` closures on the calling thread + workers, with no
// allocation per call. Tasks are *claimed* from a shared counter, so if a
// worker is slow to wake (busy machine) the calling thread simply runs the
// remaining tasks itself instead of waiting. Which thread runs a task never
// changes what the task computes (fixed partitioning), so results stay
// deterministic. Workers spin briefly after a job (cheap back-to-back
// kernels) and then sleep on a condition variable. GEMM tiles run on this
// pool too (OpenBLAS stays single-threaded); only when OpenBLAS threads its
// own calls (LLMDBG_BLAS_THREADING=blas) does gemm() park the workers first
// (pool_park), so pool workers and BLAS threads never spin at the same time.
// Non-goals: work stealing, nested parallelism, fairness between several JS
// threads (a second concurrent caller just runs its tasks serially).
// The pool object is intentionally leaked: worker threads must never see its
// destructor at process exit.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define LLMDBG_PAUSE() _mm_pause()
#else
#define LLMDBG_PAUSE() std::this_thread::yield()
#endif

namespace llmdbg {
namespace {

// state = generation (32 bits) | ntasks (16 bits) | next unclaimed task (16 bits)
inline uint32_t gen_of(uint64_t s) { return uint32_t(s >> 32); }

struct Pool {
  std::mutex mu;  // guards sleepers + cv
  std::condition_variable cv;
  std::mutex runMu;  // one job at a time
  std::atomic<uint64_t> state{0};
  std::atomic<int> done{0};  // tasks finished in the current job
  std::atomic<int> active{1};  // threads to use (incl. caller)
  std::atomic<bool> park{false};  // BLAS is about to run: stop spinning now
  int sleepers = 0;
  TaskFn fn = nullptr;  // valid while the job that published it is unfinished
  void* ctx = nullptr;
  std::vector<std::thread> workers;

  // Claims and runs tasks of generation g until none are left.
  void drain(uint32_t g) {
    for (;;) {
      uint64_t s = state.load(std::memory_order_acquire);
      if (gen_of(s) != g) return;
      const int nt = int((s >> 16) & 0xffff), t = int(s & 0xffff);
      if (t >= nt) return;
      if (!state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) continue;
      fn(ctx, t, nt);  // fn/ctx are stable: the job cannot finish before `done` counts this task
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void worker() {
    uint32_t seen = gen_of(state.load(std::memory_order_acquire));
    for (;;) {
      // Spin ~50us waiting for the next job, then sleep.
      auto t0 = std::chrono::steady_clock::now();
      for (int it = 0;; ++it) {
        if (gen_of(state.load(std::memory_order_acquire)) != seen) break;
        LLMDBG_PAUSE();
        if (park.load(std::memory_order_relaxed) ||
            ((it & 255) == 255 && std::chrono::steady_clock::now() - t0 > std::chrono::microseconds(50))) {
          std::unique_lock<std::mutex> lk(mu);
          ++sleepers;
          cv.wait(lk, [&] { return gen_of(state.load(std::memory_order_acquire)) != seen; });
          --sleepers;
          break;
        }
      }
      seen = gen_of(state.load(std::memory_order_acquire));
      drain(seen);
    }
  }

  void ensure(int n) {
    while (int(workers.size()) < n - 1) {
      workers.emplace_back([this] { worker(); });
      workers.back().detach();
    }
  }
};

Pool* pool() {
  static Pool* p = new Pool();  // leaked on purpose (see header)
  return p;
}

}  // namespace

void pool_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > 64) n = 64;  // OpenBLAS has a fixed number of per-call buffers (2 x its max threads)
  Pool* p = pool();
  std::lock_guard<std::mutex> lk(p->runMu);
  p->ensure(n);
  p->active.store(n);
}

int pool_threads() { return pool()->active.load(std::memory_order_relaxed); }

void pool_park() { pool()->park.store(true, std::memory_order_relaxed); }

void pool_run(int ntasks, TaskFn fn, void* ctx) {
  Pool* p = pool();
  if (ntasks > 0xffff) ntasks = 0xffff;
  std::unique_lock<std::mutex> run(p->runMu, std::try_to_lock);
  if (ntasks <= 1 || p->active.load() <= 1 || !run.owns_lock()) {
    for (int t = 0; t < ntasks; ++t) fn(ctx, t, ntasks);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  p->park.store(false, std::memory_order_relaxed);
  p->done.store(0, std::memory_order_relaxed);
  const uint32_t g = gen_of(p->state.load(std::memory_order_relaxed)) + 1;
  p->state.store((uint64_t(g) << 32) | (uint64_t(ntasks) << 16), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lk(p->mu);
    if (p->sleepers > 0) p->cv.notify_all();
  }
  p->drain(g);
  // Every task is claimed now; wait only for those still running elsewhere.
  for (int it = 0; p->done.load(std::memory_order_acquire) != ntasks; ++it) {
    if (it < 4096) LLMDBG_PAUSE();
    else std::this_thread::yield();
  }
}

}  // namespace llmdbg
