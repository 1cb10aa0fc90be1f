// The float64 reference of docs/contract.md §1–§5 for the CPU core's tests: scores,
// softmax, dropout and the analytic gradients, element by element, every bias dense.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace reference {

inline uint32_t mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// docs/contract.md §5, written from the text: u = mix(mix(mix(mix(s) ^ (b·Hq + h)) ^ i) ^ j).
inline uint32_t dropoutHash(uint32_t seed, uint32_t batchHead, uint32_t i, uint32_t j) {
  return mix(mix(mix(mix(seed) ^ batchHead) ^ i) ^ j);
}

inline uint32_t dropoutThreshold(double rate) { return static_cast<uint32_t>(std::floor(rate * 4294967296.0)); }

// A bias with its own dimensions (each 1 or the full size) and contiguous strides,
// 0 on broadcast dimensions: the view the core receives.
struct Bias {
  int64_t own[4] = {1, 1, 1, 1};
  int64_t stride[4] = {0, 0, 0, 0};
  std::vector<double> values;

  bool present() const { return !values.empty(); }
  void shape(const int64_t dims[4]) {
    int64_t step = 1;
    for (int d = 3; d >= 0; --d) {
      own[d] = dims[d];
      stride[d] = dims[d] > 1 ? step : 0;
      step *= dims[d];
    }
    values.assign(static_cast<size_t>(step), 0.0);
  }
  int64_t offset(int64_t b, int64_t h, int64_t i, int64_t j) const {
    return b * stride[0] + h * stride[1] + i * stride[2] + j * stride[3];
  }
};

struct Problem {
  int64_t B, Hq, Hkv, Sq, Sk, D, Dv;
  double scale;
  int causal;                         // 0 none, 1 top-left, 2 bottom-right
  std::vector<int> qStarts, kStarts;  // block-diagonal cumulative starts, or empty
  Bias bias, window;                  // window: own[0] = nW, batch b reads b % nW
  double dropoutRate;
  uint32_t dropoutSeed;
  std::vector<double> q, k, v;
};

struct Result {
  std::vector<double> out, logsumexp;
  std::vector<double> dq, dk, dv, dbias, dwindow;
  std::vector<double> dbiasMagnitude, dwindowMagnitude;  // Σ |dS| of each bias element's sum
};

// Whether query i sees key j under the causal and block-diagonal masks.
inline bool visible(const Problem& p, int64_t i, int64_t j) {
  int64_t qStart = 0, qLength = p.Sq, kStart = 0, kLength = p.Sk;
  if (!p.qStarts.empty()) {
    size_t g = 0;
    while (!(p.qStarts[g] <= i && i < p.qStarts[g + 1])) ++g;
    if (!(p.kStarts[g] <= j && j < p.kStarts[g + 1])) return false;
    qStart = p.qStarts[g];
    qLength = p.qStarts[g + 1] - qStart;
    kStart = p.kStarts[g];
    kLength = p.kStarts[g + 1] - kStart;
  }
  const int64_t li = i - qStart, lj = j - kStart;
  if (p.causal == 1 && lj > li) return false;
  if (p.causal == 2 && lj > li + kLength - qLength) return false;
  return true;
}

inline double score(const Problem& p, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (!visible(p, i, j)) return -std::numeric_limits<double>::infinity();
  const int64_t kvh = b * p.Hkv + h / (p.Hq / p.Hkv);
  double dot = 0;
  for (int64_t d = 0; d < p.D; ++d) dot += p.q[((b * p.Hq + h) * p.Sq + i) * p.D + d] * p.k[(kvh * p.Sk + j) * p.D + d];
  double s = p.scale * dot;
  if (p.bias.present()) s += p.bias.values[p.bias.offset(b, h, i, j)];
  if (p.window.present()) s += p.window.values[p.window.offset(b % p.window.own[0], h, i, j)];
  return s;
}

inline double keepMultiplier(const Problem& p, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (p.dropoutRate <= 0) return 1;
  const uint32_t u = dropoutHash(p.dropoutSeed, static_cast<uint32_t>(b * p.Hq + h), static_cast<uint32_t>(i),
                                 static_cast<uint32_t>(j));
  return u >= dropoutThreshold(p.dropoutRate) ? 1 / (1 - p.dropoutRate) : 0;
}

// Forward; with dout, also the gradients of Σ out ∘ dout.
inline Result run(const Problem& p, const std::vector<double>* dout) {
  Result r;
  const double inf = std::numeric_limits<double>::infinity();
  r.out.assign(p.B * p.Hq * p.Sq * p.Dv, 0.0);
  r.logsumexp.assign(p.B * p.Hq * p.Sq, inf);
  if (dout != nullptr) {
    r.dq.assign(p.q.size(), 0.0);
    r.dk.assign(p.k.size(), 0.0);
    r.dv.assign(p.v.size(), 0.0);
    r.dbias.assign(p.bias.values.size(), 0.0);
    r.dwindow.assign(p.window.values.size(), 0.0);
    r.dbiasMagnitude.assign(p.bias.values.size(), 0.0);
    r.dwindowMagnitude.assign(p.window.values.size(), 0.0);
  }
  std::vector<double> s(p.Sk), prob(p.Sk), dprob(p.Sk);
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t h = 0; h < p.Hq; ++h) {
      const int64_t bh = b * p.Hq + h, kvh = b * p.Hkv + h / (p.Hq / p.Hkv);
      for (int64_t i = 0; i < p.Sq; ++i) {
        double m = -inf;
        for (int64_t j = 0; j < p.Sk; ++j) m = std::max(m, s[j] = score(p, b, h, i, j));
        if (m == -inf) continue;  // fully masked: output 0, logsumexp +Infinity, no gradient
        double sum = 0;
        for (int64_t j = 0; j < p.Sk; ++j) sum += prob[j] = std::exp(s[j] - m);
        for (int64_t j = 0; j < p.Sk; ++j) prob[j] /= sum;
        r.logsumexp[bh * p.Sq + i] = m + std::log(sum);
        double* out = &r.out[(bh * p.Sq + i) * p.Dv];
        for (int64_t j = 0; j < p.Sk; ++j) {
          const double w = prob[j] * keepMultiplier(p, b, h, i, j);
          for (int64_t c = 0; c < p.Dv; ++c) out[c] += w * p.v[(kvh * p.Sk + j) * p.Dv + c];
        }
        if (dout == nullptr) continue;
        const double* dO = &(*dout)[(bh * p.Sq + i) * p.Dv];
        double delta = 0;
        for (int64_t j = 0; j < p.Sk; ++j) {
          const double keep = keepMultiplier(p, b, h, i, j);
          double dp = 0;
          for (int64_t c = 0; c < p.Dv; ++c) dp += dO[c] * p.v[(kvh * p.Sk + j) * p.Dv + c];
          dprob[j] = dp * keep;
          delta += prob[j] * dprob[j];
          for (int64_t c = 0; c < p.Dv; ++c) r.dv[(kvh * p.Sk + j) * p.Dv + c] += prob[j] * keep * dO[c];
        }
        for (int64_t j = 0; j < p.Sk; ++j) {
          const double ds = prob[j] * (dprob[j] - delta);
          if (ds == 0) continue;
          for (int64_t d = 0; d < p.D; ++d) {
            r.dq[(bh * p.Sq + i) * p.D + d] += p.scale * ds * p.k[(kvh * p.Sk + j) * p.D + d];
            r.dk[(kvh * p.Sk + j) * p.D + d] += p.scale * ds * p.q[(bh * p.Sq + i) * p.D + d];
          }
          if (p.bias.present()) {
            r.dbias[p.bias.offset(b, h, i, j)] += ds;
            r.dbiasMagnitude[p.bias.offset(b, h, i, j)] += std::fabs(ds);
          }
          if (p.window.present()) {
            r.dwindow[p.window.offset(b % p.window.own[0], h, i, j)] += ds;
            r.dwindowMagnitude[p.window.offset(b % p.window.own[0], h, i, j)] += std::fabs(ds);
          }
        }
      }
    }
  return r;
}

inline double loss(const Problem& p, const std::vector<double>& dout) {
  const Result r = run(p, nullptr);
  double l = 0;
  for (size_t e = 0; e < r.out.size(); ++e) l += r.out[e] * dout[e];
  return l;
}

}  // namespace reference
