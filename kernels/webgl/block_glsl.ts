/**
 * GLSL loops on packed texels (2×2 blocks) shared by the programs. Each accumulates a
 * 2×2 block of products into `acc`, and zeroes the padding row or column of an odd size
 * so that whatever an earlier program left there cannot leak in (0 · NaN is NaN).
 */

/**
 * acc(r, c) += Σ_d a(r, d) · b(c, d) for rows (r, r+1) and (c, c+1), over d < `dim`:
 * `a(d)` and `b(d)` are GLSL expressions of the texels at depth d (even).
 */
export function rowDotRowGlsl(acc: string, a: (d: string) => string, b: (d: string) => string, dim: string): string {
  return `
    for (int d = 0; d < ${dim} - 1; d += 2) {
      vec4 a = ${a('d')};
      vec4 b = ${b('d')};
      ${acc} += a.xxzz * b.xzxz + a.yyww * b.ywyw;
    }
    if ((${dim} & 1) == 1) {
      vec4 a = ${a(`${dim} - 1`)};
      vec4 b = ${b(`${dim} - 1`)};
      ${acc} += a.xxzz * b.xzxz;
    }`;
}

/**
 * acc(r, c) += Σ_j tile(r, j) · m(j, c) over even j in [lo, hi): `tile(j)` and `m(j)` are
 * the texels at j; rows j+1 ≥ `size` of m are padding.
 */
export function tileTimesMatrixGlsl(
    acc: string, tile: (j: string) => string, m: (j: string) => string, lo: string, hi: string, size: string): string {
  return `
    for (int j = ${lo}; j < ${hi}; j += 2) {
      vec4 p = ${tile('j')};
      vec4 m = ${m('j')};
      if (j + 1 >= ${size}) m.zw = vec2(0.0);
      ${acc} += p.xxzz * m.xyxy + p.yyww * m.zwzw;
    }`;
}

/**
 * acc(r, c) += Σ_i tile(i, r) · m(i, c) over even i in [lo, hi): the tile's transpose
 * times m; rows i+1 ≥ `size` of m are padding.
 */
export function tileTransposedTimesMatrixGlsl(
    acc: string, tile: (i: string) => string, m: (i: string) => string, lo: string, hi: string, size: string): string {
  return `
    for (int i = ${lo}; i < ${hi}; i += 2) {
      vec4 p = ${tile('i')};
      vec4 m = ${m('i')};
      if (i + 1 >= ${size}) m.zw = vec2(0.0);
      ${acc} += p.xxyy * m.xyxy + p.zzww * m.zwzw;
    }`;
}

/** Zeroes the padding row and column of a packed output block at (row, col). */
export function zeroPaddingGlsl(result: string, row: string, rows: string, col: string, cols: string): string {
  return `
    if (${row} + 1 >= ${rows}) ${result}.zw = vec2(0.0);
    if (${col} + 1 >= ${cols}) ${result}.yw = vec2(0.0);`;
}
