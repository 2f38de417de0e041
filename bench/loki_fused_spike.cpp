// Spike for the Loki report ("Going past the copy bound"): how fast would a fused gather-attention
// kernel (what a custom op would run) be on this CPU? One decode step of one layer, 32 heads × 128,
// the cache in balmkit's Loki layout (low-rank keys d-major [B·H][d][T], the other dimensions
// [B·H][T][128−d], values [B·H][T][128]), d = 32: approximate scores, top k by nth_element (no
// sort), exact scores and the weighted sum reading the selected rows in place (no copy), optionally
// prefetching the rows `pf` selections ahead. Full attention is written the same way (one pass over
// K, one over V), so the ratio compares kernels of the same quality. OpenMP over heads, cold caches
// before every run (a 64 MiB read), medians (p10–p90) over interleaved runs.
//
//   g++ -O3 -march=native -fopenmp -o /tmp/loki-fused bench/loki_fused_spike.cpp
//   OMP_NUM_THREADS=2 quiet-run /tmp/loki-fused BATCH CONTEXT [RUNS=20]   (RUNS 0: check k = T equals full)
//
// Not part of the SDK: onnxruntime-node cannot load a custom-op library (see docs/loki-report.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <omp.h>
static const int H = 32, HD = 128;
static float* rnd(size_t n, unsigned s) { float* a = (float*)aligned_alloc(64, n * 4); for (size_t i = 0; i < n; i++) { s = s * 1664525u + 1013904223u; a[i] = s / 2147483648.0f - 1; } return a; }
static std::vector<double> flushbuf(8 << 20);
static double cold() { double s = 0; for (size_t i = 0; i < flushbuf.size(); i += 8) s += flushbuf[i]; return s; }
static inline float dot(const float* a, const float* b, int n) { float s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }

// full: s = K q, softmax, out = p V   (per head, row-major K/V [T][HD])
static void full(int B, int T, const float* K, const float* V, const float* q, float* out) {
  #pragma omp parallel
  {
    std::vector<float> s(T);
    #pragma omp for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
      const float* k = K + (size_t)bh * T * HD; const float* v = V + (size_t)bh * T * HD; const float* qq = q + bh * HD;
      float m = -1e30f;
      for (int t = 0; t < T; t++) { s[t] = dot(k + (size_t)t * HD, qq, HD); m = std::max(m, s[t]); }
      float z = 0; for (int t = 0; t < T; t++) { s[t] = std::exp(s[t] - m); z += s[t]; }
      float o[HD] = {0};
      for (int t = 0; t < T; t++) { const float w = s[t] / z; const float* vr = v + (size_t)t * HD; for (int j = 0; j < HD; j++) o[j] += w * vr[j]; }
      memcpy(out + bh * HD, o, sizeof o);
    }
  }
}

// loki fused: approx on low (d-major), top-k (nth_element), exact = approx + qr.rest[i] read in place, softmax, out = sum w v[i] in place
static void loki(int B, int T, int d, int k, const float* LOW, const float* REST, const float* V, const float* q, float* out, bool sortIdx, int pf) {
  const int r = HD - d;
  #pragma omp parallel
  {
    std::vector<float> s(T); std::vector<int> idx(T); std::vector<float> e(k);
    #pragma omp for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
      const float* low = LOW + (size_t)bh * d * T; const float* rest = REST + (size_t)bh * T * r; const float* v = V + (size_t)bh * T * HD; const float* qq = q + bh * HD;
      for (int t = 0; t < T; t++) s[t] = 0;
      for (int j = 0; j < d; j++) { const float qj = qq[j]; const float* row = low + (size_t)j * T; for (int t = 0; t < T; t++) s[t] += qj * row[t]; }
      for (int t = 0; t < T; t++) idx[t] = t;
      std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), [&](int a, int b) { return s[a] > s[b]; });
      if (sortIdx) std::sort(idx.begin(), idx.begin() + k);
      float m = -1e30f;
      for (int i = 0; i < k; i++) {
        if (pf && i + pf < k) { const char* p = (const char*)(rest + (size_t)idx[i + pf] * r); for (int c = 0; c < r * 4; c += 64) __builtin_prefetch(p + c); }
        e[i] = s[idx[i]] + dot(qq + d, rest + (size_t)idx[i] * r, r); m = std::max(m, e[i]);
      }
      float z = 0; for (int i = 0; i < k; i++) { e[i] = std::exp(e[i] - m); z += e[i]; }
      float o[HD] = {0};
      for (int i = 0; i < k; i++) {
        if (pf && i + pf < k) { const char* p = (const char*)(v + (size_t)idx[i + pf] * HD); for (int c = 0; c < HD * 4; c += 64) __builtin_prefetch(p + c); }
        const float w = e[i] / z; const float* vr = v + (size_t)idx[i] * HD; for (int j = 0; j < HD; j++) o[j] += w * vr[j];
      }
      memcpy(out + bh * HD, o, sizeof o);
    }
  }
}

int main(int argc, char** argv) {
  int B = atoi(argv[1]), T = atoi(argv[2]), runs = argc > 3 ? atoi(argv[3]) : 20; const int d = 32;
  size_t n = (size_t)B * H * T * HD;
  float *K = rnd(n, 1), *V = rnd(n, 2), *q = rnd(B * H * HD, 3);
  for (size_t i = 0; i < (size_t)B * H * HD; i++) q[i] *= 1.0f / std::sqrt((float)HD);
  float* LOW = (float*)aligned_alloc(64, (size_t)B * H * d * T * 4); float* REST = (float*)aligned_alloc(64, (size_t)B * H * T * (HD - d) * 4);
  for (size_t bh = 0; bh < (size_t)B * H; bh++) for (int t = 0; t < T; t++) { const float* row = K + (bh * T + t) * HD; for (int j = 0; j < d; j++) LOW[(bh * d + j) * T + t] = row[j]; memcpy(REST + (bh * T + t) * (HD - d), row + d, (HD - d) * 4); }
  std::vector<float> out(B * H * HD);
  if (runs == 0) { std::vector<float> o2(B * H * HD); full(B, T, K, V, q, out.data()); loki(B, T, d, T, LOW, REST, V, q, o2.data(), false, 4); double m = 0; for (size_t i = 0; i < out.size(); i++) m = std::max(m, (double)std::fabs(out[i] - o2[i])); printf("check k=T: max |full - loki| = %g (max |out| %g)\n", m, (double)*std::max_element(out.begin(), out.end())); return 0; }
  struct Cfg { const char* name; double kf; bool sortIdx; int pf; };
  Cfg cfgs[] = {{"full", 0, false, 0}, {"loki k=.25", 0.25, false, 0}, {"loki k=.25 pf", 0.25, false, 4}, {"loki k=.25 sortidx", 0.25, true, 0}, {"loki k=.125", 0.125, false, 0}, {"loki k=.125 pf", 0.125, false, 4}};
  const int nc = sizeof cfgs / sizeof cfgs[0];
  std::vector<std::vector<double>> ts(nc); double sink = 0;
  for (int rr = 0; rr < runs + 2; rr++) for (int c = 0; c < nc; c++) {
    sink += cold();
    auto t0 = std::chrono::steady_clock::now();
    if (cfgs[c].kf == 0) full(B, T, K, V, q, out.data()); else loki(B, T, d, (int)std::ceil(cfgs[c].kf * T), LOW, REST, V, q, out.data(), cfgs[c].sortIdx, cfgs[c].pf);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (rr >= 2) ts[c].push_back(ms); sink += out[0];
  }
  double f = 0;
  printf("B=%d T=%d threads=%d:", B, T, omp_get_max_threads());
  for (int c = 0; c < nc; c++) { auto x = ts[c]; std::sort(x.begin(), x.end()); double m = x[x.size() / 2]; if (!c) f = m; printf("  %s %.2f (%.2f-%.2f) x%.2f", cfgs[c].name, m, x[x.size() / 10], x[x.size() * 9 / 10], f / m); }
  printf("\n"); if (sink == 42) printf(" ");
}
