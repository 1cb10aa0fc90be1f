// Times the CPU attention core: forward, and forward + backward, per instruction-set
// variant, medians of repetitions taken in turns (the variants alternate within each
// repetition, so a load change on a shared machine hits them alike).
//
// On a shared machine the wall times include other processes' turns: the fastest
// repetition and the process CPU time of each call (all its threads, per thread) are
// printed beside the median.
//
// Usage: attention_bench [--threads=N (default 2)] [--reps=N (default 21)] [--simd=NAME]
// GFLOP/s count the products as FlashAttention does: forward 2·B·Hq·Sq·Sk·(D + Dv), the
// backward 2.5 times that (five products, S recomputed).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "../../kernels/tensorflow/cpu/attention_cpu.h"

namespace cpu = tfjs_attention::cpu;

namespace {

struct Shape {
  const char* name;
  int B, Hq, Sq, Sk, D;
  bool headBias;  // a [1, Hq, Sq, Sk] bias (Swin's relative position bias)
};

struct Buffers {
  std::vector<float> q, k, v, bias, out, lse, dout, dq, dk, dv, dbias;
};

double milliseconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

double cpuMilliseconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  return x[x.size() / 2];
}

double minimum(const std::vector<double>& x) { return *std::min_element(x.begin(), x.end()); }

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, reps = 21;
  std::vector<std::string> variants = cpu::supportedSimd();
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg.rfind("--threads=", 0) == 0) threads = std::atoi(arg.c_str() + 10);
    if (arg.rfind("--reps=", 0) == 0) reps = std::atoi(arg.c_str() + 7);
    if (arg.rfind("--simd=", 0) == 0) variants = {arg.substr(7)};
  }
  const Shape shapes[] = {
      {"[1,8,512,64]", 1, 8, 512, 512, 64, false},
      {"[1,8,1024,64]", 1, 8, 1024, 1024, 64, false},
      {"[256,3,49,32] + bias [1,3,49,49]", 256, 3, 49, 49, 32, true},
  };
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::printf("threads %d, %d repetitions, medians (ms); variants in turns\n", threads, reps);
  std::printf(
      "| shape | variant | forward ms: median (GFLOP/s) / fastest / CPU per thread | "
      "forward+backward ms: median (GFLOP/s) / fastest / CPU per thread |\n| --- | --- | --- | --- |\n");
  for (const Shape& s : shapes) {
    Buffers b;
    const size_t rows = static_cast<size_t>(s.B) * s.Hq * s.Sq, keys = static_cast<size_t>(s.B) * s.Hq * s.Sk;
    for (auto* t : {&b.q, &b.dout}) t->resize(rows * s.D);
    for (auto* t : {&b.k, &b.v}) t->resize(keys * s.D);
    for (auto* t : {&b.q, &b.k, &b.v, &b.dout})
      for (float& e : *t) e = normal(rng);
    b.out.resize(rows * s.D);
    b.lse.resize(rows);
    b.dq.resize(rows * s.D);
    b.dk.resize(keys * s.D);
    b.dv.resize(keys * s.D);
    cpu::Problem p;
    p.batch = s.B, p.headsQ = p.headsKV = s.Hq, p.seqQ = s.Sq, p.seqK = s.Sk, p.headDim = p.valueDim = s.D;
    p.scale = 1.f / std::sqrt(static_cast<float>(s.D));
    if (s.headBias) {
      b.bias.resize(static_cast<size_t>(s.Hq) * s.Sq * s.Sk);
      for (float& e : b.bias) e = normal(rng);
      b.dbias.resize(b.bias.size());
      p.bias = b.bias.data();
      p.biasStride[0] = 0, p.biasStride[1] = s.Sq * s.Sk, p.biasStride[2] = s.Sk, p.biasStride[3] = 1;
    }
    const cpu::ForwardTensors f{b.q.data(), b.k.data(), b.v.data(), b.out.data(), b.lse.data()};
    cpu::BackwardTensors g{};
    g.dout = b.dout.data(), g.q = b.q.data(), g.k = b.k.data(), g.v = b.v.data(), g.out = b.out.data();
    g.logsumexp = b.lse.data(), g.dq = b.dq.data(), g.dk = b.dk.data(), g.dv = b.dv.data();
    g.dbias = s.headBias ? b.dbias.data() : nullptr;
    g.biasElements = static_cast<int64_t>(b.dbias.size());
    std::vector<std::vector<double>> forwardTimes(variants.size()), trainTimes(variants.size());
    std::vector<std::vector<double>> forwardCpu(variants.size()), trainCpu(variants.size());
    for (int r = -2; r < reps; ++r) {  // two warm-up rounds
      for (size_t v = 0; v < variants.size(); ++v) {
        cpu::selectSimd(variants[v]);
        double cpuStart = cpuMilliseconds();
        auto start = std::chrono::steady_clock::now();
        cpu::forward(p, f, threads);
        const double forwardMs = milliseconds(start), forwardCpuMs = cpuMilliseconds() - cpuStart;
        cpuStart = cpuMilliseconds();
        start = std::chrono::steady_clock::now();
        cpu::forward(p, f, threads);
        cpu::backward(p, g, threads);
        const double trainMs = milliseconds(start), trainCpuMs = cpuMilliseconds() - cpuStart;
        if (r >= 0) {
          forwardTimes[v].push_back(forwardMs);
          trainTimes[v].push_back(trainMs);
          forwardCpu[v].push_back(forwardCpuMs / threads);
          trainCpu[v].push_back(trainCpuMs / threads);
        }
      }
    }
    const double forwardFlops = 2.0 * s.B * s.Hq * s.Sq * s.Sk * (2.0 * s.D);
    for (size_t v = 0; v < variants.size(); ++v) {
      const double fm = median(forwardTimes[v]), tm = median(trainTimes[v]);
      std::printf("| %s | %s | %.2f (%.0f) / %.2f / %.2f | %.2f (%.0f) / %.2f / %.2f |\n", s.name, variants[v].c_str(),
                  fm, forwardFlops / fm / 1e6, minimum(forwardTimes[v]), median(forwardCpu[v]), tm,
                  3.5 * forwardFlops / tm / 1e6, minimum(trainTimes[v]), median(trainCpu[v]));
    }
  }
  return 0;
}
