// Tests of the CPU attention core (kernels/tensorflow/cpu) against the float64 reference:
// forward and backward over every bias kind and their sums, GQA, Dv ≠ D, fully masked
// rows and dropout, on each instruction-set variant this CPU supports, with 1 and 2
// threads; the reference's gradients against finite differences; the dropout hash against
// values of src/dropout.ts; the vectorized exponential's error.
//
// Usage: attention_test [--seed=N] [--simd=NAME]. Inputs are fresh random draws from the
// printed seed (ATTENTION_TEST_SEED or --seed replays a run). The last line is
// "N passed, M failed"; the exit status is 1 when something failed.
//
// Tolerances. The core computes in float32 with float32 accumulation; the reference in
// float64 on the same float32 inputs. Errors are measured as max |core − reference| over a
// tensor divided by max |reference| over it. Inputs are N(0, 1), scale 1/√D, so sums run
// over at most a few hundred terms of magnitude ≲ 1: float32 round-off (u = 6e-8) grows
// like √n·u in practice (n·u = 2e-5 at worst for n = 300); runs measure at most about
// 1e-6 on every tensor. The forward allows 1e-5, the backward 3e-5: its dS = P ∘ (dP − D) subtracts nearly equal sums,
// and dK / dV sum over every query row of a head group. A wrong mask, bias index, dropout decision or tile bound
// changes results by O(1) of max |reference| and cannot pass. Masked results are checked exactly: fully masked rows
// give output 0, logsumexp +Infinity and zero dQ; bias entries of -Infinity get gradient exactly 0; nothing is NaN.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../../kernels/tensorflow/cpu/attention_cpu.h"
#include "../../kernels/tensorflow/cpu/attention_plan.h"
#include "attention_reference.h"

namespace cpu = tfjs_attention::cpu;

namespace {

int passed = 0, failed = 0;
std::map<std::string, double> largestErrors;  // per tensor, over every case: printed at the end

void check(bool ok, const std::string& what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    std::printf("  FAIL %s\n", what.c_str());
  }
}

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

// A case: sizes, masks, biases given as own dimensions ("1hij": '1' broadcast, else full).
struct Spec {
  Spec(std::string caseName, int64_t b, int64_t hq, int64_t hkv, int64_t sq, int64_t sk, int64_t d, int64_t dv)
      : name(std::move(caseName)), B(b), Hq(hq), Hkv(hkv), Sq(sq), Sk(sk), D(d), Dv(dv) {}
  std::string name;
  int64_t B, Hq, Hkv, Sq, Sk, D, Dv;
  int causal = 0;
  std::vector<int> qLens, kLens;
  std::string bias;     // "" none, else 4 characters of "b h i j 1"
  int64_t windows = 0;  // window bias [windows, 1 or Hq, Sq, Sk]
  bool windowPerHead = false;
  double maskedFraction = 0;  // share of bias entries set to -Infinity
  int maskedRows = 0;         // bias rows (all keys) set to -Infinity
  double dropout = 0;
};

struct Draw {
  reference::Problem problem;
  std::vector<float> q, k, v, dout, bias, window;
  std::vector<double> doutDouble;
};

std::vector<float> normals(std::mt19937_64& rng, size_t n) {
  std::normal_distribution<float> normal;
  std::vector<float> x(n);
  for (float& e : x) e = normal(rng);
  return x;
}

std::vector<double> widen(const std::vector<float>& x) { return std::vector<double>(x.begin(), x.end()); }

void fillBias(std::mt19937_64& rng, const Spec& s, reference::Bias* bias, std::vector<float>* values) {
  std::uniform_real_distribution<double> unit;
  *values = normals(rng, bias->values.size());
  for (float& e : *values) {
    if (unit(rng) < s.maskedFraction) e = -std::numeric_limits<float>::infinity();
  }
  if (s.maskedRows > 0 && bias->own[2] > 1 && bias->own[3] > 1) {
    const int64_t slices = bias->own[0] * bias->own[1];
    for (int r = 0; r < s.maskedRows; ++r) {
      const int64_t slice = static_cast<int64_t>(unit(rng) * slices),
                    i = static_cast<int64_t>(unit(rng) * bias->own[2]);
      for (int64_t j = 0; j < bias->own[3]; ++j) {
        (*values)[slice * bias->own[2] * bias->own[3] + i * bias->own[3] + j] = -std::numeric_limits<float>::infinity();
      }
    }
  }
  bias->values = widen(*values);
}

Draw draw(const Spec& s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Draw d;
  reference::Problem& p = d.problem;
  p.B = s.B, p.Hq = s.Hq, p.Hkv = s.Hkv, p.Sq = s.Sq, p.Sk = s.Sk, p.D = s.D, p.Dv = s.Dv;
  p.scale = 1 / std::sqrt(static_cast<double>(s.D));
  p.scale = static_cast<float>(p.scale);
  p.causal = s.causal;
  if (!s.qLens.empty()) {
    p.qStarts = {0};
    p.kStarts = {0};
    for (size_t g = 0; g < s.qLens.size(); ++g) {
      p.qStarts.push_back(p.qStarts.back() + s.qLens[g]);
      p.kStarts.push_back(p.kStarts.back() + s.kLens[g]);
    }
  }
  d.q = normals(rng, s.B * s.Hq * s.Sq * s.D);
  d.k = normals(rng, s.B * s.Hkv * s.Sk * s.D);
  d.v = normals(rng, s.B * s.Hkv * s.Sk * s.Dv);
  d.dout = normals(rng, s.B * s.Hq * s.Sq * s.Dv);
  p.q = widen(d.q), p.k = widen(d.k), p.v = widen(d.v);
  d.doutDouble = widen(d.dout);
  if (!s.bias.empty()) {
    const int64_t full[4] = {s.B, s.Hq, s.Sq, s.Sk};
    int64_t dims[4];
    for (int e = 0; e < 4; ++e) dims[e] = s.bias[e] == '1' ? 1 : full[e];
    p.bias.shape(dims);
    fillBias(rng, s, &p.bias, &d.bias);
  }
  if (s.windows > 0) {
    const int64_t dims[4] = {s.windows, s.windowPerHead ? s.Hq : 1, s.Sq, s.Sk};
    p.window.shape(dims);
    fillBias(rng, s, &p.window, &d.window);
  }
  p.dropoutRate = s.dropout;
  p.dropoutSeed = static_cast<uint32_t>(rng());
  return d;
}

cpu::Problem coreProblem(const Draw& d) {
  const reference::Problem& r = d.problem;
  cpu::Problem p;
  p.batch = r.B, p.headsQ = r.Hq, p.headsKV = r.Hkv, p.seqQ = r.Sq, p.seqK = r.Sk, p.headDim = r.D, p.valueDim = r.Dv;
  p.scale = static_cast<float>(r.scale);
  p.causal = r.causal;
  p.dropoutRate = static_cast<float>(r.dropoutRate);
  p.dropoutSeed = r.dropoutSeed;
  p.qSeqStarts = r.qStarts;
  p.kSeqStarts = r.kStarts;
  if (r.bias.present()) {
    p.bias = d.bias.data();
    std::copy(r.bias.stride, r.bias.stride + 4, p.biasStride);
  }
  if (r.window.present()) {
    p.windowBias = d.window.data();
    std::copy(r.window.stride, r.window.stride + 4, p.windowStride);
    p.numWindows = static_cast<int>(r.window.own[0]);
  }
  return p;
}

// max |got − want| / max |want|; exact comparison where `exact` says so; NaN fails.
struct Comparison {
  double error = 0, scale = 0;
  bool exactOk = true, finite = true;
};

Comparison compare(const std::vector<float>& got, const std::vector<double>& want, const std::vector<bool>* exact,
                   const std::vector<double>* magnitude) {
  Comparison c;
  for (size_t e = 0; e < want.size(); ++e) {
    if (magnitude != nullptr) c.scale = std::max(c.scale, (*magnitude)[e]);
    if (std::isnan(got[e])) c.finite = false;
    if (std::isfinite(want[e])) {
      c.error = std::max(c.error, std::fabs(got[e] - want[e]));
      c.scale = std::max(c.scale, std::fabs(want[e]));
    }
    if (exact != nullptr && (*exact)[e] && static_cast<double>(got[e]) != want[e]) c.exactOk = false;
  }
  c.error = c.scale > 0 ? c.error / c.scale : c.error;
  return c;
}

// `magnitude`, where given, is Σ |term| of each element's sum: a bias broadcast along the
// keys has gradient Σ_j dS_ij = 0 in exact arithmetic, so its own values set no scale.
void checkTensor(const std::string& label, const char* tensor, const std::vector<float>& got,
                 const std::vector<double>& want, double tolerance, const std::vector<bool>* exact = nullptr,
                 const std::vector<double>* magnitude = nullptr) {
  const Comparison c = compare(got, want, exact, magnitude);
  largestErrors[tensor] = std::max(largestErrors[tensor], c.error);
  check(c.finite, label + " " + tensor + " has no NaN");
  check(c.error <= tolerance,
        label + " " + tensor + " error " + format("%.2e", c.error) + " <= " + format("%.0e", tolerance));
  if (exact != nullptr) check(c.exactOk, label + " " + tensor + " exact zeros where masked");
}

struct Outputs {
  std::vector<float> out, lse, dq, dk, dv, dbias, dwindow;
};

// The core's forward on d: Outputs::out and lse.
Outputs runForward(const Draw& d, int threads) {
  const reference::Problem& r = d.problem;
  Outputs o;
  o.out.assign(r.B * r.Hq * r.Sq * r.Dv, -1.f);
  o.lse.assign(r.B * r.Hq * r.Sq, -1.f);
  cpu::forward(coreProblem(d), cpu::ForwardTensors{d.q.data(), d.k.data(), d.v.data(), o.out.data(), o.lse.data()},
               threads);
  return o;
}

Outputs runCore(const Draw& d, int threads) {
  const cpu::Problem p = coreProblem(d);
  Outputs o = runForward(d, threads);
  o.dq.assign(d.q.size(), -1.f);
  o.dk.assign(d.k.size(), -1.f);
  o.dv.assign(d.v.size(), -1.f);
  o.dbias.assign(d.bias.size(), -1.f);
  o.dwindow.assign(d.window.size(), -1.f);
  cpu::BackwardTensors t{};
  t.dout = d.dout.data(), t.q = d.q.data(), t.k = d.k.data(), t.v = d.v.data();
  t.out = o.out.data(), t.logsumexp = o.lse.data();
  t.dq = o.dq.data(), t.dk = o.dk.data(), t.dv = o.dv.data();
  t.dbias = d.bias.empty() ? nullptr : o.dbias.data();
  t.biasElements = static_cast<int64_t>(d.bias.size());
  t.dwindowBias = d.window.empty() ? nullptr : o.dwindow.data();
  t.windowElements = static_cast<int64_t>(d.window.size());
  cpu::backward(p, t, threads);
  return o;
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

void testCase(const Spec& s, uint64_t seed, const std::vector<std::string>& variants) {
  const Draw d = draw(s, seed);
  const reference::Problem& r = d.problem;
  const reference::Result want = reference::run(r, &d.doutDouble);
  // Where results must be exactly 0: rows with no visible key, bias entries of -Infinity.
  std::vector<bool> maskedOut(want.out.size()), maskedQuery(want.dq.size());
  for (size_t row = 0; row < want.logsumexp.size(); ++row) {
    if (!std::isinf(want.logsumexp[row])) continue;
    for (int64_t c = 0; c < r.Dv; ++c) maskedOut[row * r.Dv + c] = true;
    for (int64_t c = 0; c < r.D; ++c) maskedQuery[row * r.D + c] = true;
  }
  std::vector<bool> maskedBias(d.bias.size()), maskedWindow(d.window.size());
  for (size_t e = 0; e < d.bias.size(); ++e) maskedBias[e] = std::isinf(d.bias[e]);
  for (size_t e = 0; e < d.window.size(); ++e) maskedWindow[e] = std::isinf(d.window[e]);
  for (const std::string& variant : variants) {
    cpu::selectSimd(variant);
    std::vector<float> firstOut;
    for (int threads : {1, 2}) {
      const std::string label =
          s.name + " [" + variant + ", " + std::to_string(threads) + " thread" + (threads > 1 ? "s" : "") + "]";
      const Outputs o = runCore(d, threads);
      checkTensor(label, "output", o.out, want.out, 1e-5, &maskedOut);
      bool lseOk = true;
      for (size_t e = 0; e < want.logsumexp.size(); ++e) {
        const double w = want.logsumexp[e];
        lseOk = lseOk && (std::isinf(w) ? o.lse[e] == static_cast<float>(w)
                                        : std::fabs(o.lse[e] - w) <= 2e-5 * std::max(1.0, std::fabs(w)));
      }
      check(lseOk, label + " logsumexp (+Infinity on fully masked rows)");
      checkTensor(label, "dQ", o.dq, want.dq, 3e-5, &maskedQuery);
      checkTensor(label, "dK", o.dk, want.dk, 3e-5);
      checkTensor(label, "dV", o.dv, want.dv, 3e-5);
      if (!d.bias.empty()) checkTensor(label, "dBias", o.dbias, want.dbias, 3e-5, &maskedBias, &want.dbiasMagnitude);
      if (!d.window.empty()) {
        checkTensor(label, "dWindowBias", o.dwindow, want.dwindow, 3e-5, &maskedWindow, &want.dwindowMagnitude);
      }
      const Outputs again = runCore(d, threads);
      check(sameBits(o.out, again.out) && sameBits(o.lse, again.lse) && sameBits(o.dq, again.dq) &&
                sameBits(o.dk, again.dk) && sameBits(o.dv, again.dv) && sameBits(o.dbias, again.dbias) &&
                sameBits(o.dwindow, again.dwindow),
            label + " a second run gives the same bits");
      if (threads == 1) firstOut = o.out;
      if (threads == 2) check(sameBits(firstOut, o.out), label + " output bits equal to 1 thread's");
    }
  }
}

// The reference's analytic gradients against central differences of Σ out ∘ dout.
void testReferenceGradients(const Spec& s, uint64_t seed) {
  Draw d = draw(s, seed);
  reference::Problem& p = d.problem;
  const reference::Result analytic = reference::run(p, &d.doutDouble);
  std::mt19937_64 rng(seed + 1);
  double worst = 0;
  auto probe = [&](std::vector<double>& x, const std::vector<double>& gradient) {
    if (x.empty()) return;
    for (int n = 0; n < 6; ++n) {
      const size_t e = rng() % x.size();
      if (std::isinf(x[e])) {
        worst = std::max(worst, std::fabs(gradient[e]));  // must be exactly 0
        continue;
      }
      const double saved = x[e], h = 1e-5;
      x[e] = saved + h;
      const double up = reference::loss(p, d.doutDouble);
      x[e] = saved - h;
      const double down = reference::loss(p, d.doutDouble);
      x[e] = saved;
      worst = std::max(worst, std::fabs((up - down) / (2 * h) - gradient[e]) / (1 + std::fabs(gradient[e])));
    }
  };
  probe(p.q, analytic.dq);
  probe(p.k, analytic.dk);
  probe(p.v, analytic.dv);
  probe(p.bias.values, analytic.dbias);
  probe(p.window.values, analytic.dwindow);
  check(worst <= 1e-7, "reference gradients of " + s.name + " against finite differences: error " +
                           format("%.2e", worst) + " <= 1e-07");
}

// Keep decisions: with Q = K = 0 every visible key has probability 1/Sk, and with V = I
// (Dv = Sk) output[i][j] is that probability times j's dropout multiplier.
void testDropoutDecisions(uint64_t seed, double rate, const std::vector<std::string>& variants) {
  Spec s{"dropout decisions", 2, 3, 3, 70, 80, 8, 80};
  s.dropout = rate;
  Draw d = draw(s, seed);
  std::fill(d.q.begin(), d.q.end(), 0.f);
  std::fill(d.k.begin(), d.k.end(), 0.f);
  std::fill(d.v.begin(), d.v.end(), 0.f);
  for (int64_t bk = 0; bk < s.B * s.Hkv; ++bk)
    for (int64_t j = 0; j < s.Sk; ++j) d.v[(bk * s.Sk + j) * s.Dv + j] = 1.f;
  const cpu::Problem p = coreProblem(d);
  for (const std::string& variant : variants) {
    cpu::selectSimd(variant);
    std::vector<float> out(s.B * s.Hq * s.Sq * s.Dv), lse(s.B * s.Hq * s.Sq);
    cpu::forward(p, cpu::ForwardTensors{d.q.data(), d.k.data(), d.v.data(), out.data(), lse.data()}, 2);
    int64_t mismatches = 0, kept = 0;
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t h = 0; h < s.Hq; ++h)
        for (int64_t i = 0; i < s.Sq; ++i)
          for (int64_t j = 0; j < s.Sk; ++j) {
            const bool keep = reference::keepMultiplier(d.problem, b, h, i, j) > 0;
            kept += keep;
            mismatches += keep != (out[((b * s.Hq + h) * s.Sq + i) * s.Dv + j] > 0.f);
          }
    check(mismatches == 0, "dropout keep decisions [" + variant + "] rate " + format("%g", rate) + " seed " +
                               std::to_string(p.dropoutSeed) + ": " + std::to_string(kept) + " kept, " +
                               std::to_string(mismatches) + " differ from the reference hash");
  }
}

// u = hash(seed, b·Hq + h, i, j) and keep decisions at rates 0.1 and 0.5, printed by
// src/dropout.ts (dropoutHash(dropoutRowState(seed, bh, i), j), dropoutKeeps).
void testHashAgainstJavaScript() {
  struct Value {
    uint32_t seed, batchHead, i, j, hash;
    bool keep10, keep50;
  };
  const Value values[] = {
      {0u, 0, 0, 0, 0u, false, false},
      {0u, 1, 2, 3, 1066372762u, true, false},
      {0u, 5, 63, 64, 558777845u, true, false},
      {0u, 11, 1000, 7, 2036331587u, true, false},
      {0u, 100000, 4096, 4095, 2067227516u, true, false},
      {1u, 0, 0, 0, 1302927599u, true, false},
      {1u, 5, 63, 64, 2204595193u, true, true},
      {1u, 100000, 4096, 4095, 3493618457u, true, true},
      {42u, 1, 2, 3, 3143263711u, true, true},
      {42u, 11, 1000, 7, 966966978u, true, false},
      {3735928559u, 0, 0, 0, 2181403944u, true, true},
      {3735928559u, 11, 1000, 7, 1586628800u, true, false},
      {4294967295u, 5, 63, 64, 1950090074u, true, false},
      {4294967295u, 100000, 4096, 4095, 2199124852u, true, true},
  };
  int matches = 0;
  for (const Value& v : values) {
    const uint32_t u = reference::dropoutHash(v.seed, v.batchHead, v.i, v.j);
    matches += u == v.hash && (u >= reference::dropoutThreshold(0.1)) == v.keep10 &&
               (u >= reference::dropoutThreshold(0.5)) == v.keep50;
  }
  check(matches == static_cast<int>(sizeof values / sizeof values[0]),
        "dropout hash equals src/dropout.ts at " + std::to_string(matches) + " of " +
            std::to_string(sizeof values / sizeof values[0]) + " points");
}

const cpu::IsaKernels* variantKernels(const std::string& variant) {
  for (const cpu::IsaKernels* k : {
         cpu::portableKernels()
#if defined(__x86_64__)
             ,
             cpu::avx2Kernels(), cpu::avx512Kernels()
#endif
       }) {
    if (variant == k->name) return k;
  }
  return nullptr;
}

// Worst error of f over x, in float32 ulps of the float64 value exact(x).
template <typename Exact>
double worstUlps(const std::vector<float>& x, const std::vector<float>& y, Exact exact) {
  double worst = 0;
  for (size_t e = 0; e < x.size(); ++e) {
    const double want = exact(static_cast<double>(x[e]));
    const float nearest = static_cast<float>(want);
    const double ulp = std::nextafter(nearest, std::numeric_limits<float>::infinity()) - nearest;
    worst = std::max(worst, std::fabs(y[e] - want) / ulp);
  }
  return worst;
}

// Error of the tiles' 2^x over [-126, 0] (the softmax's arguments are <= 0), and its exact
// points.
void testExponential(const std::string& variant, uint64_t seed) {
  const cpu::IsaKernels* kernels = variantKernels(variant);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-126.f, 0.f);
  const int n = 1 << 20;
  std::vector<float> x(n), y(n);
  for (int e = 0; e < n; ++e) x[e] = e < n / 2 ? -126.f * e / (n / 2) : uniform(rng);
  kernels->exponential2(x.data(), y.data(), n);
  const double worst = worstUlps(x, y, [](double v) { return std::exp2(v); });
  std::printf("exponential [%s]: worst %.2f ulp over [-126, 0]\n", variant.c_str(), worst);
  check(worst <= 2.0,
        "exponential [" + variant + "] within 2 ulp on [-126, 0]: worst " + format("%.2f", worst) + " ulp");
  const float special[] = {0.f, -std::numeric_limits<float>::infinity(), -126.5f, -1000.f};
  float result[4];
  kernels->exponential2(special, result, 4);
  check(result[0] == 1.f && result[1] == 0.f && result[2] == 0.f && result[3] == 0.f,
        "exponential [" + variant + "] 2^0 = 1, 2^-Infinity = 2^-126.5 = 0");
}

// Error of the tiles' ln x over [1, 2^24] (a row's sum of probabilities), and its special
// points.
void testLogarithm(const std::string& variant, uint64_t seed) {
  const cpu::IsaKernels* kernels = variantKernels(variant);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(0.f, 24.f);
  const int n = 1 << 20;
  std::vector<float> x(n), y(n);
  for (int e = 0; e < n; ++e) x[e] = e < n / 2 ? 1.f + 2.f * e / (n / 2) : std::exp2(uniform(rng));
  kernels->logarithm(x.data(), y.data(), n);
  const double worst = worstUlps(x, y, [](double v) { return std::log(v); });
  std::printf("logarithm [%s]: worst %.2f ulp over [1, 2^24]\n", variant.c_str(), worst);
  check(worst <= 1.0, "logarithm [" + variant + "] within 1 ulp on [1, 2^24]: worst " + format("%.2f", worst) + " ulp");
  const float special[] = {1.f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()};
  float result[3];
  kernels->logarithm(special, result, 3);
  check(result[0] == 0.f && result[1] == std::numeric_limits<float>::infinity() && std::isnan(result[2]),
        "logarithm [" + variant + "] ln 1 = 0, ln Infinity = Infinity, ln NaN = NaN");
}

std::vector<Spec> cases() {
  std::vector<Spec> list;
  auto add = [&](Spec s) { list.push_back(s); };
  add({"plain", 2, 3, 3, 70, 90, 32, 32});
  add({"GQA, Dv != D, padded dims", 2, 4, 2, 65, 130, 24, 40});
  add({"MQA, one key/value head", 1, 4, 1, 129, 64, 64, 16});
  add({"GQA, many small heads (tasks claimed ahead)", 20, 4, 2, 20, 33, 16, 16});
  add({"one row, one key, D = 1", 1, 1, 1, 1, 1, 1, 3});
  add({"no keys (Sk = 0): every row masked", 2, 2, 1, 5, 0, 8, 8});
  Spec causal{"causal top-left", 1, 2, 2, 150, 150, 32, 32};
  causal.causal = 1;
  add(causal);
  Spec topLeftLong{"causal top-left, Sq > Sk", 1, 2, 1, 100, 30, 16, 16};
  topLeftLong.causal = 1;
  add(topLeftLong);
  Spec bottomRight{"causal bottom-right, Sq < Sk", 2, 2, 2, 40, 140, 32, 24};
  bottomRight.causal = 2;
  add(bottomRight);
  Spec bottomRightMasked{"causal bottom-right, Sq > Sk (fully masked rows)", 1, 3, 1, 100, 30, 16, 32};
  bottomRightMasked.causal = 2;
  add(bottomRightMasked);
  Spec dense{"dense bias [B,H,Sq,Sk] with -Infinity and masked rows", 2, 2, 2, 70, 75, 32, 32};
  dense.bias = "bhij";
  dense.maskedFraction = 0.1;
  dense.maskedRows = 6;
  add(dense);
  Spec relative{"head bias [1,H,Sq,Sk] over batches", 4, 3, 3, 49, 49, 32, 32};
  relative.bias = "1hij";
  add(relative);
  Spec padding{"padding mask [B,1,1,Sk]", 3, 2, 2, 33, 100, 16, 16};
  padding.bias = "b11j";
  padding.maskedFraction = 0.3;
  add(padding);
  Spec keysAndWindow{"padding mask [B,1,1,Sk] + window bias, Sq = 50", 4, 2, 2, 50, 70, 16, 16};
  keysAndWindow.bias = "b11j";
  keysAndWindow.windows = 2;
  keysAndWindow.maskedFraction = 0.2;
  add(keysAndWindow);
  Spec rows{"query bias [1,1,Sq,1]", 2, 2, 2, 80, 70, 16, 16};
  rows.bias = "11i1";
  add(rows);
  Spec scalar{"bias [1,1,1,1]", 2, 2, 1, 20, 70, 16, 16};
  scalar.bias = "1111";
  add(scalar);
  Spec swin{"Swin: head bias + window mask [nW,1,Sq,Sk]", 8, 3, 3, 49, 49, 32, 32};
  swin.bias = "1hij";
  swin.windows = 4;
  swin.maskedFraction = 0.05;
  add(swin);
  Spec windowHeads{"window bias per head [nW,H,Sq,Sk], GQA", 6, 4, 2, 20, 30, 8, 8};
  windowHeads.windows = 3;
  windowHeads.windowPerHead = true;
  windowHeads.maskedRows = 2;
  add(windowHeads);
  Spec blocks{"block-diagonal", 1, 2, 2, 105, 117, 16, 16};
  blocks.qLens = {5, 70, 0, 30};
  blocks.kLens = {10, 60, 7, 40};
  add(blocks);
  Spec blocksCausal = blocks;
  blocksCausal.name = "block-diagonal, causal top-left inside blocks";
  blocksCausal.causal = 1;
  add(blocksCausal);
  Spec blocksBottom{"block-diagonal, causal bottom-right (masked rows), empty key block", 1, 3, 1, 110, 85, 16, 20};
  blocksBottom.qLens = {30, 64, 16};
  blocksBottom.kLens = {10, 75, 0};
  blocksBottom.causal = 2;
  add(blocksBottom);
  Spec drop{"dropout 0.1", 2, 2, 2, 70, 90, 32, 32};
  drop.dropout = 0.1;
  add(drop);
  Spec everything{"dropout 0.3 + bias + window + causal + GQA", 4, 4, 2, 70, 70, 24, 16};
  everything.dropout = 0.3;
  everything.bias = "1hij";
  everything.windows = 2;
  everything.causal = 2;
  everything.maskedFraction = 0.05;
  add(everything);
  Spec blocksDrop{"block-diagonal + dropout 0.5 + dense bias", 1, 2, 2, 70, 66, 16, 16};
  blocksDrop.qLens = {40, 30};
  blocksDrop.kLens = {30, 36};
  blocksDrop.dropout = 0.5;
  blocksDrop.bias = "1hij";
  add(blocksDrop);
  return list;
}

// Calls from several threads at once (TensorFlow runs independent ops concurrently): each
// gives the bits it gives alone, whichever of them holds the thread pool.
void testConcurrentCalls(uint64_t seed, const std::vector<std::string>& variants) {
  Spec a{"concurrent calls A", 2, 4, 2, 100, 90, 32, 32};
  a.bias = "1hij";
  a.dropout = 0.2;
  Spec b{"concurrent calls B", 1, 3, 1, 70, 130, 16, 24};
  b.causal = 1;
  const Draw drawA = draw(a, seed), drawB = draw(b, seed + 1);
  for (const std::string& variant : variants) {
    cpu::selectSimd(variant);
    const Outputs aloneA = runCore(drawA, 2), aloneB = runCore(drawB, 2);
    bool same = true;
    for (int round = 0; round < 4; ++round) {
      Outputs togetherA, togetherB;
      std::thread other([&] { togetherB = runCore(drawB, 2); });
      togetherA = runCore(drawA, 2);
      other.join();
      same = same && sameBits(aloneA.out, togetherA.out) && sameBits(aloneA.dq, togetherA.dq) &&
             sameBits(aloneA.dk, togetherA.dk) && sameBits(aloneA.dbias, togetherA.dbias) &&
             sameBits(aloneB.out, togetherB.out) && sameBits(aloneB.dq, togetherB.dq) &&
             sameBits(aloneB.dv, togetherB.dv);
    }
    check(same, "concurrent calls [" + variant + "] give the bits of lone calls");
  }
}

// docs/contract.md §7: NaN and ±Infinity in a key or value row reach no row that masks the
// key (causal, -Infinity tensor or window bias, block-diagonal), and make the rows that
// read it non-finite; the other rows equal the reference with those entries set to 0.
void testNonFiniteInputs(uint64_t seed, const std::vector<std::string>& variants) {
  std::vector<Spec> specs;
  Spec causal{"causal", 2, 4, 2, 70, 80, 16, 8};
  causal.causal = 2;
  Spec tensor{"a -Infinity tensor bias", 2, 4, 2, 70, 80, 16, 16};
  tensor.bias = "b1ij";
  tensor.maskedFraction = 0.5;
  Spec window{"a -Infinity window bias", 2, 4, 2, 70, 80, 16, 16};
  window.windows = 2;
  window.windowPerHead = true;
  window.maskedFraction = 0.5;
  Spec blocks{"a block-diagonal mask", 1, 4, 2, 100, 90, 16, 8};
  blocks.qLens = {60, 40};
  blocks.kLens = {70, 20};
  const int64_t poisonedKey = 66, poisonedValue = 65;
  for (const Spec& s : {causal, tensor, window, blocks}) {
    Draw clean = draw(s, seed++);
    Draw poisoned = clean;
    for (int64_t b = 0; b < s.B; ++b) {
      for (int64_t d = 0; d < s.D; ++d) {
        poisoned.k[((b * s.Hkv) * s.Sk + poisonedKey) * s.D + d] = std::numeric_limits<float>::quiet_NaN();
      }
      poisoned.v[((b * s.Hkv + 1) * s.Sk + poisonedValue) * s.Dv + 1] = std::numeric_limits<float>::infinity();
      poisoned.v[((b * s.Hkv) * s.Sk + poisonedValue) * s.Dv + 2] = std::numeric_limits<float>::quiet_NaN();
    }
    const reference::Result want = reference::run(clean.problem, nullptr);
    const reference::Problem& r = clean.problem;
    auto reads = [&](int64_t b, int64_t h, int64_t i, int64_t j) {
      return !std::isinf(reference::score(r, b, h, i, j));
    };
    for (const std::string& variant : variants) {
      cpu::selectSimd(variant);
      const std::vector<float> out = runForward(poisoned, 2).out;
      int64_t readers = 0, maskers = 0, wrong = 0;
      double error = 0, scale = 0;
      for (int64_t b = 0; b < s.B; ++b)
        for (int64_t h = 0; h < s.Hq; ++h)
          for (int64_t i = 0; i < s.Sq; ++i) {
            const float* row = &out[((b * s.Hq + h) * s.Sq + i) * s.Dv];
            const int64_t kvHead = h / (s.Hq / s.Hkv);
            if (kvHead == 0 && reads(b, h, i, poisonedKey)) {
              ++readers;
              wrong += std::all_of(row, row + s.Dv, [](float x) { return std::isfinite(x); });
            } else if (reads(b, h, i, poisonedValue)) {
              ++readers;
              wrong += std::isfinite(row[kvHead == 0 ? 2 : 1]);
            } else {
              ++maskers;
              for (int64_t c = 0; c < s.Dv; ++c) {
                const double w = want.out[((b * s.Hq + h) * s.Sq + i) * s.Dv + c];
                wrong += !std::isfinite(row[c]);
                error = std::max(error, std::fabs(row[c] - w));
                scale = std::max(scale, std::fabs(w));
              }
            }
          }
      check(wrong == 0 && readers > 0 && maskers > 0 && error <= 1e-5 * scale,
            "non-finite key and value masked by " + s.name + " [" + variant + "]: " + std::to_string(readers) +
                " reading rows non-finite, " + std::to_string(maskers) + " masking rows finite and within " +
                format("%.1e", error / scale) + " of the reference (" + std::to_string(wrong) + " wrong)");
    }
  }
}

// docs/contract.md §7: a NaN in a query row or in a bias entry a row reads makes that row
// non-finite, and no other.
void testNonFiniteQueryAndBias(uint64_t seed, const std::vector<std::string>& variants) {
  Spec s{"query and bias", 1, 2, 2, 70, 80, 16, 8};
  s.bias = "11ij";
  const Draw clean = draw(s, seed);
  Draw poisoned = clean;
  const int64_t nanQueryRow = 1, nanBiasRow = 67;  // head 0's row 1; row 67 of every head
  for (int64_t d = 0; d < s.D; ++d) poisoned.q[nanQueryRow * s.D + d] = std::numeric_limits<float>::quiet_NaN();
  poisoned.bias[nanBiasRow * s.Sk + 2] = std::numeric_limits<float>::quiet_NaN();
  const reference::Result want = reference::run(clean.problem, nullptr);
  for (const std::string& variant : variants) {
    cpu::selectSimd(variant);
    const std::vector<float> out = runForward(poisoned, 2).out;
    int64_t wrong = 0;
    double error = 0, scale = 0;
    for (int64_t h = 0; h < s.Hq; ++h)
      for (int64_t i = 0; i < s.Sq; ++i) {
        const float* row = &out[(h * s.Sq + i) * s.Dv];
        if (i == nanBiasRow || (h == 0 && i == nanQueryRow)) {
          wrong += std::any_of(row, row + s.Dv, [](float x) { return std::isfinite(x); });
          continue;
        }
        for (int64_t c = 0; c < s.Dv; ++c) {
          const double w = want.out[(h * s.Sq + i) * s.Dv + c];
          wrong += !std::isfinite(row[c]);
          error = std::max(error, std::fabs(row[c] - w));
          scale = std::max(scale, std::fabs(w));
        }
      }
    check(wrong == 0 && error <= 1e-5 * scale, "NaN in a query row and a bias entry [" + variant +
                                                   "]: those rows NaN, the others within " +
                                                   format("%.1e", error / scale) + " of the reference");
  }
}

// Small shapes for finite differences (every bias kind, masks and dropout).
std::vector<Spec> smallCases() {
  Spec plain{"small: GQA, Dv != D", 2, 2, 1, 5, 7, 3, 4};
  Spec biases{"small: bias + window + causal + dropout", 4, 2, 2, 6, 6, 3, 2};
  biases.bias = "1hij";
  biases.windows = 2;
  biases.causal = 2;
  biases.dropout = 0.25;
  biases.maskedFraction = 0.1;
  Spec blocks{"small: block-diagonal causal + padding mask", 1, 2, 2, 7, 8, 4, 3};
  blocks.qLens = {3, 4};
  blocks.kLens = {5, 3};
  blocks.causal = 1;
  blocks.bias = "111j";
  blocks.maskedFraction = 0.2;
  return {plain, biases, blocks};
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = std::random_device{}();
  if (const char* pinned = std::getenv("ATTENTION_TEST_SEED")) seed = std::strtoull(pinned, nullptr, 10);
  std::vector<std::string> variants = cpu::supportedSimd();
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg.rfind("--seed=", 0) == 0) seed = std::strtoull(arg.c_str() + 7, nullptr, 10);
    if (arg.rfind("--simd=", 0) == 0) {
      const std::string name = arg.substr(7);
      if (!cpu::selectSimd(name)) {
        std::printf("SIMD variant '%s' is not supported here (supported:", name.c_str());
        for (const std::string& v : cpu::supportedSimd()) std::printf(" %s", v.c_str());
        std::printf(")\n0 passed, 1 failed\n");
        return 1;
      }
      variants = {name};
    }
  }
  std::printf("CPU attention core tests (seed %llu; replay with ATTENTION_TEST_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::printf("variants:");
  for (const std::string& v : variants) std::printf(" %s", v.c_str());
  std::printf("\n");
  const auto start = std::chrono::steady_clock::now();
  uint64_t index = 0;
  testHashAgainstJavaScript();
  for (const std::string& variant : variants) {
    testExponential(variant, seed + ++index);
    testLogarithm(variant, seed + ++index);
  }
  for (double rate : {0.1, 0.5}) testDropoutDecisions(seed + ++index, rate, variants);
  for (const Spec& s : smallCases()) testReferenceGradients(s, seed + ++index);
  testConcurrentCalls(seed + ++index, variants);
  testNonFiniteInputs(seed + 1000 * ++index, variants);
  testNonFiniteQueryAndBias(seed + ++index, variants);
  for (const Spec& s : cases()) {
    const int before = failed;
    testCase(s, seed + ++index, variants);
    std::printf("%s %s\n", failed == before ? "ok  " : "FAIL", s.name.c_str());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("largest errors (relative to max |reference|):");
  for (const auto& [tensor, error] : largestErrors) std::printf(" %s %.1e", tensor.c_str(), error);
  std::printf("\n(%.1f s)\n%d passed, %d failed\n", seconds, passed, failed);
  return failed == 0 ? 0 : 1;
}
