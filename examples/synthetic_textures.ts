/**
 * A synthetic image classification set generated in code: grayscale textures of four kinds
 * with random scale, phase, orientation jitter, contrast and noise, so that a classifier has
 * to look at spatial structure, not at brightness.
 */

export const CLASS_NAMES = ['horizontal stripes', 'vertical stripes', 'checkerboard', 'blobs'] as const;

/** A seeded uniform [0, 1) stream (a 32-bit LCG), so the example is reproducible. */
export function uniformStream(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

function texture(kind: number, size: number, random: () => number): (y: number, x: number) => number {
  const period = 4 + random() * 6;
  const phase = random() * 2 * Math.PI;
  const wave = (t: number) => Math.sin((2 * Math.PI * t) / period + phase);
  // A slight tilt, so stripes are not perfectly axis-aligned.
  const tilt = (random() - 0.5) * 0.3;
  switch (kind) {
    case 0: return (y, x) => wave(y + tilt * x);
    case 1: return (y, x) => wave(x + tilt * y);
    case 2: return (y, x) => Math.sign(wave(y) * Math.sin((2 * Math.PI * x) / period + phase)) * 0.8;
    default: {
      const blobs = Array.from({length: 2 + Math.floor(random() * 3)}, () => ({
        cy: random() * size, cx: random() * size, radius: 2 + random() * size / 6,
      }));
      return (y, x) => {
        const peak = Math.max(...blobs.map(b => Math.exp(-((y - b.cy) ** 2 + (x - b.cx) ** 2) / (2 * b.radius ** 2))));
        return 2 * peak - 1;
      };
    }
  }
}

export interface TextureSet {
  /** [count, size, size, 1], row-major. */
  images: Float32Array;
  labels: number[];
}

/** `count` images of side `size`, classes in turn. */
export function makeTextures(count: number, size: number, seed: number): TextureSet {
  const random = uniformStream(seed);
  const images = new Float32Array(count * size * size);
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const label = i % CLASS_NAMES.length;
    labels.push(label);
    const value = texture(label, size, random);
    const contrast = 0.5 + random();
    const offset = (random() - 0.5) * 0.6;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const noise = (random() + random() + random() - 1.5) * 0.6;
        images[(i * size + y) * size + x] = contrast * value(y, x) + offset + noise;
      }
    }
  }
  return {images, labels};
}
