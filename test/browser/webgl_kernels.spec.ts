/**
 * What only the webgl kernels can get wrong: their tiling, the textures they allocate and
 * free, packed inputs, texture limits, WebGL 1, and dropout decisions against the cpu kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {GPGPUProgram, MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';
import {expect} from 'chai';
import {attentionImplementation, LowerTriangularMask, scaledDotProductAttention, WindowBias} from '../../src/index';
import type {AttentionOptions} from '../../src/index';
import {AssembleTilesProgram} from '../../kernels/webgl/assemble_tiles_program';
import {BACKWARD_TILE_BUDGET, ONE_TILE_BYTES} from '../../kernels/webgl/geometry';
import {ScoresProgram} from '../../kernels/webgl/scores_program';
import {CaseShape, caseTensors, makeCase, randomArray, randomSeed, relativeError, rng} from '../suite/cases';
import {AttentionCase, referenceBackward, referenceForward} from '../suite/reference';

const gpuBytes = () => (tf.memory() as unknown as {numBytesInGPU: number}).numBytesInGPU;

/** The programs `f` runs on the webgl backend, and the most GPU bytes in use after any of them. */
function programsRunBy(f: () => void): {programs: GPGPUProgram[], peakBytes: number} {
  const backend = tf.backend() as MathBackendWebGL;
  const runProgram = backend.runWebGLProgram;
  const programs: GPGPUProgram[] = [];
  let peakBytes = gpuBytes();
  backend.runWebGLProgram = function(...args: Parameters<MathBackendWebGL['runWebGLProgram']>) {
    programs.push(args[0]);
    const output = runProgram.apply(this, args);
    peakBytes = Math.max(peakBytes, gpuBytes());
    return output;
  };
  try {
    f();
  } finally {
    backend.runWebGLProgram = runProgram;
  }
  return {programs, peakBytes};
}

/** Runs `f` with environment flags set, then restores them. */
function withFlags<T>(flags: Record<string, number | boolean>, f: () => T): T {
  const saved = Object.keys(flags).map(name => [name, tf.env().get(name)] as const);
  Object.entries(flags).forEach(([name, value]) => tf.env().set(name, value));
  try {
    return f();
  } finally {
    saved.forEach(([name, value]) => tf.env().set(name, value));
  }
}

/** The op's output and its gradients for q, k, v and the tensor biases, given dy. */
function outputAndGrads(c: AttentionCase, dy: Float64Array): Float32Array[] {
  return tf.tidy(() => {
    const {q, k, v, biasTensors, options} = caseTensors(c);
    const f = (...xs: tf.Tensor[]) => {
      let next = 3;
      const bias = (options.bias as unknown[]).map(b => b instanceof tf.Tensor ? xs[next++] :
                                                         b instanceof WindowBias ? new WindowBias(xs[next++]) : b);
      return scaledDotProductAttention(
          xs[0] as tf.Tensor4D, xs[1] as tf.Tensor4D, xs[2] as tf.Tensor4D,
          {...options, bias: bias as AttentionOptions['bias']});
    };
    const dyT = tf.tensor4d(Float32Array.from(dy), [c.B, c.Hq, c.Sq, c.Dv]);
    const out = f(q, k, v, ...biasTensors);
    const grads = tf.grads(f)([q, k, v, ...biasTensors], dyT);
    return [out, ...grads].map(t => t.dataSync() as Float32Array);
  });
}

function expectMatchesReference(c: AttentionCase, random: () => number, tolerance: number): void {
  const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
  const [out, ...grads] = outputAndGrads(c, dy);
  expect(relativeError(out, referenceForward(c).out), 'output').to.be.at.most(tolerance);
  const want = referenceBackward(c, dy);
  [want.dq, want.dk, want.dv, ...want.dBiases].forEach((expected, n) => {
    expect(relativeError(grads[n], expected), `gradient ${n}`).to.be.at.most(tolerance * 10);
  });
}

describe('webgl kernels', () => {
  const seed = randomSeed();
  let random: () => number;
  beforeEach(() => {
    random = rng(seed ^ Math.floor(Math.random() * 4294967296));
  });

  describe(`tiling (seed ${seed})`, () => {
    // Small problems are one tile unless the flags say otherwise: these cut theirs, and the
    // backward's as finely as the forward's.
    let oneTileBytes: number, backwardBudget: number;
    beforeEach(() => {
      oneTileBytes = tf.env().getNumber(ONE_TILE_BYTES);
      backwardBudget = tf.env().getNumber(BACKWARD_TILE_BUDGET);
      tf.env().set(ONE_TILE_BYTES, 0);
      tf.env().set(BACKWARD_TILE_BUDGET, 1);
    });
    afterEach(() => {
      tf.env().set(ONE_TILE_BYTES, oneTileBytes);
      tf.env().set(BACKWARD_TILE_BUDGET, backwardBudget);
    });

    const tiled: [string, CaseShape][] = [
      ['several heads per tile, the last tile partly empty', {
        B: 2, Hq: 4, Hkv: 2, Sq: 6, Sk: 7, D: 8, Dv: 9,
        biases: [
          {kind: 'tensor', shape: [4, 6, 7]}, {kind: 'window', shape: [2, 1, 6, 7]},
          {kind: 'causal', fromBottomRight: true},
        ],
        dropout: {rate: 0.25, seed: 11},
      }],
      ['slices of one head\'s query rows', {
        B: 1, Hq: 2, Hkv: 1, Sq: 41, Sk: 24, D: 6, Dv: 5,
        biases: [
          {kind: 'tensor', shape: [41, 1]}, {kind: 'blockDiagonal', qLens: [17, 24], kLens: [9, 15], causal: true},
        ],
        dropout: {rate: 0.3, seed: 5},
      }],
    ];
    for (const [name, shape] of tiled) {
      it(`${name}: several tiles, and equal to the float64 reference`, () => {
        const c = makeCase(random, shape);
        const {programs} = programsRunBy(() => tf.tidy(() => {
          const {q, k, v, options} = caseTensors(c);
          scaledDotProductAttention(q, k, v, options);
        }));
        const forwardTiles = programs.filter(p => p instanceof ScoresProgram).length;
        expect(forwardTiles, 'score tiles').to.be.greaterThan(1);
        const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
        // outputAndGrads runs the forward twice (the output, then inside tf.grads).
        const all = programsRunBy(() => outputAndGrads(c, dy)).programs.filter(p => p instanceof ScoresProgram).length;
        expect(all - 2 * forwardTiles, 'backward score tiles').to.be.greaterThan(1);
        expectMatchesReference(c, random, 1e-5);
      });
    }

    it('self-attention (one tensor as q, k and v) across tiles equals the op on three copies', () => {
      tf.tidy(() => {
        const x = tf.randomNormal([1, 2, 41, 8]) as tf.Tensor4D;
        const copy = () => tf.tensor4d(x.dataSync(), [1, 2, 41, 8]);
        const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
            scaledDotProductAttention(
                a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, {bias: new LowerTriangularMask()});
        const {programs} = programsRunBy(() => f(x, x, x));
        expect(programs.filter(p => p instanceof ScoresProgram).length, 'score tiles').to.be.greaterThan(1);
        expect(relativeError(f(x, x, x).dataSync(), f(copy(), copy(), copy()).dataSync())).to.be.at.most(1e-6);
        const [self] = tf.grads((a: tf.Tensor) => f(a, a, a))([x]);
        const [a, b, c] = [copy(), copy(), copy()];
        const separate = tf.grads(f)([a, b, c]).reduce((sum, g) => tf.add(sum, g));
        expect(relativeError(self.dataSync(), separate.dataSync())).to.be.at.most(1e-5);
      });
    });

    it('never allocates a B·H·Sq·Sk texture, forward or backward', () => {
      const c = makeCase(random, {
        B: 2, Hq: 4, Hkv: 2, Sq: 64, Sk: 96, D: 16, Dv: 8,
        biases: [{kind: 'tensor', shape: [1, 4, 64, 96]}, {kind: 'causal'}],
      });
      const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
      const {programs} = programsRunBy(() => outputAndGrads(c, dy));
      expect(programs.some(p => p instanceof ScoresProgram), 'the fused kernels ran').to.equal(true);
      const largest = Math.max(...programs.map(p => p.outputShape.reduce((a, b) => a * b, 1)));
      expect(largest).to.be.lessThan(c.B * c.Hq * c.Sq * c.Sk);
    });
  });

  it('runs a small problem (a Swin window batch) as one tile, with no assembly pass', () => {
    tf.tidy(() => {
      const [q, k, v] = [0, 1, 2].map(() => tf.randomNormal([128, 2, 9, 16]) as tf.Tensor4D);
      const bias = [tf.randomNormal([1, 2, 9, 9]), new WindowBias(tf.randomNormal([4, 1, 9, 9]))];
      const {programs} = programsRunBy(() => scaledDotProductAttention(q, k, v, {bias}));
      expect(programs.filter(p => p instanceof ScoresProgram).length, 'score tiles').to.equal(1);
      expect(programs.some(p => p instanceof AssembleTilesProgram), 'assembly').to.equal(false);
    });
  });

  it('keeps its extra GPU memory within the bytes of q, k, v and the output (forward)', () => {
    tf.tidy(() => {
      const [q, k, v] = [0, 1, 2].map(() => tf.randomNormal([1, 4, 512, 32]) as tf.Tensor4D);
      tf.dispose(scaledDotProductAttention(q, k, v));  // uploads q, k, v and compiles
      const before = gpuBytes();
      const {peakBytes} = programsRunBy(() => tf.dispose(scaledDotProductAttention(q, k, v)));
      expect(peakBytes - before).to.be.at.most(4 * 4 * q.size);
    });
  });

  it('reads inputs that are packed textures (outputs of packed ops, odd sizes)', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([1, 2, 7, 5]);
      const w = tf.randomNormal([5, 5]);
      const packed = tf.reshape(tf.matMul(tf.reshape(x, [14, 5]), w), [1, 2, 7, 5]) as tf.Tensor4D;
      const plain = tf.tensor4d(packed.dataSync(), [1, 2, 7, 5]);
      const mask = new LowerTriangularMask();
      const fromPacked = scaledDotProductAttention(packed, packed, packed, {bias: mask}).dataSync();
      const fromPlain = scaledDotProductAttention(plain, plain, plain, {bias: mask}).dataSync();
      expect(relativeError(fromPacked, fromPlain)).to.be.at.most(1e-6);
    });
  });

  it('frees every tensor and texture it allocates, forward and backward', () => {
    const c = makeCase(random, {
      B: 2, Hq: 4, Hkv: 2, Sq: 33, Sk: 20, D: 8, Dv: 6,
      biases: [{kind: 'tensor', shape: [1, 4, 33, 20]}, {kind: 'window', shape: [2, 4, 33, 20]}, {kind: 'causal'}],
      dropout: {rate: 0.2, seed: 3},
    });
    const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
    outputAndGrads(c, dy);  // warm-up: shaders compile, the texture pool fills
    const tensors = tf.memory().numTensors, bytes = gpuBytes();
    outputAndGrads(c, dy);
    expect(tf.memory().numTensors, 'tensors').to.equal(tensors);
    expect(gpuBytes(), 'GPU bytes').to.equal(bytes);
  });

  describe('texture limits (WEBGL_MAX_TEXTURE_SIZE lowered)', () => {
    it('runs fused and correct when tfjs lays its textures out squarified', () => {
      const c = makeCase(random, {B: 1, Hq: 2, Sq: 40, Sk: 30, D: 6, Dv: 7, biases: [{kind: 'causal'}]});
      withFlags({WEBGL_MAX_TEXTURE_SIZE: 32}, () => {
        const {q, k, v, options} = caseTensors(c);
        expect(attentionImplementation(q, k, v, options).implementation).to.equal('webgl-fused');
        tf.dispose([q, k, v]);
        expectMatchesReference(c, random, 1e-5);
      });
    });

    it('leaves a call whose textures do not fit to the composed path, and says why', () => {
      tf.tidy(() => {
        const q = tf.zeros([1, 4, 16, 16]), kv = tf.zeros([1, 1, 16, 16]);
        const d = withFlags({WEBGL_MAX_TEXTURE_SIZE: 8}, () => attentionImplementation(q, kv, kv));
        expect(d.implementation).to.equal('composed');
        expect(d.reasons['webgl-fused'].join('; ')).to.match(/\[4,16,16\] texture does not fit WEBGL_MAX_TEXTURE_SIZE = 8/);
      });
    });
  });

  describe('WebGL 1 (WEBGL_VERSION set to 1)', () => {
    // Only dispatch is checked under the flag: running shaders would make tfjs compile
    // GLSL ES 1.0 against this WebGL 2 context, which fails to link.
    it('every call, with or without dropout, is sent to the composed path with its reason, and nothing is printed',
       () => {
      tf.tidy(() => {
        const q = tf.randomNormal([1, 2, 5, 4]), k = tf.randomNormal([1, 2, 6, 4]), v = tf.randomNormal([1, 2, 6, 3]);
        const printed: string[] = [];
        const warn = console.warn;
        console.warn = (...args: unknown[]) => void printed.push(args.join(' '));
        try {
          withFlags({WEBGL_VERSION: 1}, () => {
            for (const options of [{}, {dropout: {rate: 0.1, seed: 1}}]) {
              const d = attentionImplementation(q, k, v, options);
              expect(d.implementation).to.equal('composed');
              expect(d.reasons['webgl-fused']).to.deep.equal(['needs WebGL 2, got WebGL 1']);
            }
          });
        } finally {
          console.warn = warn;
        }
        expect(printed).to.deep.equal([]);
        expect(attentionImplementation(q, k, v).implementation).to.equal('webgl-fused');
      });
    });
  });

  it('drops exactly the elements the cpu kernel drops, for the same seed', async () => {
    // V = identity makes the output the dropped-out probability matrix itself: its zeros are the dropped elements.
    const [B, Hq, Hkv, S] = [2, 4, 2, 24];
    const q = randomArray(random, B * Hq * S * 8, 2), k = randomArray(random, B * Hkv * S * 8, 2);
    const rate = 0.37, dropoutSeed = Math.floor(random() * 4294967296);
    const run = () => tf.tidy(() => {
      const v = tf.tile(tf.reshape(tf.eye(S), [1, 1, S, S]), [B, Hkv, 1, 1]) as tf.Tensor4D;
      const args = [
        tf.tensor4d(Float32Array.from(q), [B, Hq, S, 8]), tf.tensor4d(Float32Array.from(k), [B, Hkv, S, 8]), v,
      ] as const;
      const options = {dropout: {rate, seed: dropoutSeed}};
      return {
        implementation: attentionImplementation(...args, options).implementation,
        out: scaledDotProductAttention(...args, options).dataSync() as Float32Array,
      };
    });
    const onWebGL = run();
    await tf.setBackend('cpu');
    let onCpu: typeof onWebGL;
    try {
      onCpu = run();
    } finally {
      await tf.setBackend('webgl');
    }
    expect([onWebGL.implementation, onCpu.implementation]).to.deep.equal(['webgl-fused', 'cpu-fused']);
    const dropped = (out: Float32Array) => Array.from(out, x => x === 0);
    expect(dropped(onWebGL.out)).to.deep.equal(dropped(onCpu.out));
    expect(dropped(onWebGL.out).filter(Boolean).length).to.be.greaterThan(0);
    expect(relativeError(onWebGL.out, onCpu.out)).to.be.at.most(1e-5);
  });
});
