/**
 * GLSL loops on packed texels (2×2 blocks) shared by the programs. Each accumulates a
 * 2×2 block of products into `acc`, and zeroes the padding row or column of an odd size
 * so that whatever an earlier program left there cannot leak in (0 · NaN is NaN).
 *
 * The loops walk their inputs with texelFetch and a cursor that steps a fixed number of
 * texels, instead of tfjs's samplers, which redo integer divisions for every fetch: on a
 * software GPU (SwiftShader) those divisions cost as much as the arithmetic.
 */

/** How a loop reads one packed [heads, rows, cols] input: where it starts, how far it steps. */
export interface Cursor {
  /** The input's name in the program (its sampler). */
  input: string;
  /** The input's logical shape, [heads, rows, cols]. */
  shape: number[];
  /** GLSL expressions of the first (head, row, col) read. */
  start: [string, string, string];
  /** What one step moves: 'col' (two columns) or 'row' (two rows). */
  along: 'col' | 'row';
}

/** GLSL declaring cursor `name` at its start; `fetch` reads it, `advance` steps it. */
function cursorGlsl(c: Cursor, name: string): {declare: string, fetch: string, advance: string} {
  const [, rows, cols] = c.shape;
  const texelsPerRowPair = Math.ceil(cols / 2);
  const texelsPerHead = Math.ceil(rows / 2) * texelsPerRowPair;
  const step = c.along === 'col' ? 1 : texelsPerRowPair;
  const [h, r, col] = c.start;
  return {
    declare: `
      int ${name}Width = textureSize(${c.input}, 0).x;
      int ${name}Index = (${h}) * ${texelsPerHead} + ((${r}) / 2) * ${texelsPerRowPair} + (${col}) / 2;
      ivec2 ${name} = ivec2(${name}Index % ${name}Width, ${name}Index / ${name}Width);
      ivec2 ${name}Step = ivec2(${step} % ${name}Width, ${step} / ${name}Width);`,
    fetch: `texelFetch(${c.input}, ${name}, 0)`,
    advance: `
        ${name} += ${name}Step;
        if (${name}.x >= ${name}Width) { ${name}.x -= ${name}Width; ${name}.y++; }`,
  };
}

/** The two cursors of a loop (each loop is its own GLSL block, so the names can repeat). */
function cursors(a: Cursor, b: Cursor) {
  return [cursorGlsl(a, 'cursorA'), cursorGlsl(b, 'cursorB')];
}

/**
 * acc(r, c) += Σ_d a(r, d) · b(c, d) for row pairs r of `a` and c of `b` (both stepping
 * along columns), over d < `dim`.
 */
export function rowDotRowGlsl(acc: string, a: Cursor, b: Cursor, dim: string): string {
  const [ca, cb] = cursors(a, b);
  return `
    {
      ${ca.declare}
      ${cb.declare}
      for (int d = 0; d < ${dim} - 1; d += 2) {
        vec4 a = ${ca.fetch};
        vec4 b = ${cb.fetch};
        ${acc} += a.xxzz * b.xzxz + a.yyww * b.ywyw;
        ${ca.advance}
        ${cb.advance}
      }
      if ((${dim} & 1) == 1) {
        vec4 a = ${ca.fetch};
        vec4 b = ${cb.fetch};
        ${acc} += a.xxzz * b.xzxz;
      }
    }`;
}

/**
 * acc(r, c) += Σ_j tile(r, j) · m(j, c) over `pairs` key pairs: `tile` steps along its
 * columns, `m` along its rows. The last pair's second row of m is padding when `padded`.
 */
export function tileTimesMatrixGlsl(acc: string, tile: Cursor, m: Cursor, pairs: string, padded: string): string {
  const [ct, cm] = cursors(tile, m);
  return `
    {
      ${ct.declare}
      ${cm.declare}
      for (int step = 0; step < ${pairs}; step++) {
        vec4 p = ${ct.fetch};
        vec4 m = ${cm.fetch};
        if (step == ${pairs} - 1 && ${padded}) m.zw = vec2(0.0);
        ${acc} += p.xxzz * m.xyxy + p.yyww * m.zwzw;
        ${ct.advance}
        ${cm.advance}
      }
    }`;
}

/**
 * acc(r, c) += Σ_i tile(i, r) · m(i, c) over `pairs` row pairs: the tile's transpose times
 * m, both stepping along rows. The last pair's second row of m is padding when `padded`.
 */
export function tileTransposedTimesMatrixGlsl(acc: string, tile: Cursor, m: Cursor, pairs: string, padded: string): string {
  const [ct, cm] = cursors(tile, m);
  return `
    {
      ${ct.declare}
      ${cm.declare}
      for (int step = 0; step < ${pairs}; step++) {
        vec4 p = ${ct.fetch};
        vec4 m = ${cm.fetch};
        if (step == ${pairs} - 1 && ${padded}) m.zw = vec2(0.0);
        ${acc} += p.xxyy * m.xyxy + p.zzww * m.zwzw;
        ${ct.advance}
        ${cm.advance}
      }
    }`;
}

/** Zeroes the padding row and column of a packed output block at (row, col). */
export function zeroPaddingGlsl(result: string, row: string, rows: string, col: string, cols: string): string {
  return `
    if (${row} + 1 >= ${rows}) ${result}.zw = vec2(0.0);
    if (${col} + 1 >= ${cols}) ${result}.yw = vec2(0.0);`;
}
