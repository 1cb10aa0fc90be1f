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

interface CursorGlsl {
  declare: string;
  fetch: string;
  /** Steps in any layout (wrapping at the texture's width). */
  advance: string;
  /** Steps when the texture is `plain`: one texel row per row pair, so no wrapping. */
  plainAdvance: string;
  plain: string;
}

/** GLSL declaring cursor `name` at its start; `fetch` reads it, `advance` steps it. */
function cursorGlsl(c: Cursor, name: string): CursorGlsl {
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
    plainAdvance: c.along === 'col' ? `${name}.x++;` : `${name}.y++;`,
    plain: `${name}Width == ${texelsPerRowPair}`,
  };
}

/** The two cursors of a loop (each loop is its own GLSL block, so the names can repeat). */
function cursors(a: Cursor, b: Cursor) {
  return [cursorGlsl(a, 'cursorA'), cursorGlsl(b, 'cursorB')];
}

/**
 * A loop over `count` steps reading both cursors: a copy without wrapping checks for the
 * usual layout (tfjs keeps a packed matrix's row pairs on texel rows unless the texture
 * would be too large), and the general one. Steps run two per iteration: on a software GPU
 * the loop's own bookkeeping costs about as much as a step's arithmetic.
 */
function walkGlsl(ca: CursorGlsl, cb: CursorGlsl, count: string, body: (last: string) => string): string {
  const step = (last: string, advance: string) => `
        {
          vec4 a = ${ca.fetch};
          vec4 b = ${cb.fetch};
          ${body(last)}
          ${advance}
        }`;
  const loop = (advance: string) => `
      int step = 0;
      for (; step + 1 < ${count}; step += 2) {
        ${step('false', advance)}
        ${step(`step + 2 == ${count}`, advance)}
      }
      if (step < ${count}) ${step('true', '')}`;
  return `
    {
      ${ca.declare}
      ${cb.declare}
      if (${ca.plain} && ${cb.plain}) {
        ${loop(`${ca.plainAdvance} ${cb.plainAdvance}`)}
      } else {
        ${loop(`${ca.advance} ${cb.advance}`)}
      }
    }`;
}

/**
 * acc(r, c) += Σ_d a(r, d) · b(c, d) for row pairs r of `a` and c of `b` (both stepping
 * along columns), over d < `dim`.
 */
export function rowDotRowGlsl(acc: string, a: Cursor, b: Cursor, dim: string): string {
  const [ca, cb] = cursors(a, b);
  // An odd dim's last texel holds one real column: only its .x and .z count.
  return walkGlsl(ca, cb, `(${dim} + 1) / 2`, last => `
        if (${last} && (${dim} & 1) == 1) { a.yw = vec2(0.0); }
        ${acc} += a.xxzz * b.xzxz + a.yyww * b.ywyw;`);
}

/**
 * acc(r, c) += Σ_j tile(r, j) · m(j, c) over `pairs` key pairs: `tile` steps along its
 * columns, `m` along its rows. The last pair's second row of m is padding when `padded`.
 */
export function tileTimesMatrixGlsl(acc: string, tile: Cursor, m: Cursor, pairs: string, padded: string): string {
  const [ct, cm] = cursors(tile, m);
  return walkGlsl(ct, cm, pairs, last => `
        if (${last} && ${padded}) b.zw = vec2(0.0);
        ${acc} += a.xxzz * b.xyxy + a.yyww * b.zwzw;`);
}

/**
 * acc(r, c) += Σ_i tile(i, r) · m(i, c) over `pairs` row pairs: the tile's transpose times
 * m, both stepping along rows. The last pair's second row of m is padding when `padded`.
 */
export function tileTransposedTimesMatrixGlsl(acc: string, tile: Cursor, m: Cursor, pairs: string, padded: string): string {
  const [ct, cm] = cursors(tile, m);
  return walkGlsl(ct, cm, pairs, last => `
        if (${last} && ${padded}) b.zw = vec2(0.0);
        ${acc} += a.xxyy * b.xyxy + a.zzww * b.zwzw;`);
}

/**
 * A loop over `count` texels of one input, stepping along its columns (a row pair's keys):
 * `body` reads the texel as \`texel\`. The loop is written twice, as walkGlsl's.
 */
export function rowTexelsGlsl(c: Cursor, count: string, body: string): string {
  const cc = cursorGlsl(c, 'cursor');
  const loop = (advance: string) => `
        for (int step = 0; step < ${count}; step++) {
          vec4 texel = ${cc.fetch};
          ${body}
          ${advance}
        }`;
  return `
    {
      ${cc.declare}
      if (${cc.plain}) {
        ${loop(cc.plainAdvance)}
      } else {
        ${loop(cc.advance)}
      }
    }`;
}

/** Zeroes the padding row and column of a packed output block at (row, col). */
export function zeroPaddingGlsl(result: string, row: string, rows: string, col: string, cols: string): string {
  return `
    if (${row} + 1 >= ${rows}) ${result}.zw = vec2(0.0);
    if (${col} + 1 >= ${cols}) ${result}.yw = vec2(0.0);`;
}
