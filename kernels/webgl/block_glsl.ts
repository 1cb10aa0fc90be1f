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

/** A cursor of a loop and the GLSL variable its texel is read into at each step. */
interface Walked {
  cursor: CursorGlsl;
  as: string;
}

/** The two cursors of a loop, read as `a` and `b` (each loop is its own GLSL block: names can repeat). */
function cursors(a: Cursor, b: Cursor): Walked[] {
  return [{cursor: cursorGlsl(a, 'cursorA'), as: 'a'}, {cursor: cursorGlsl(b, 'cursorB'), as: 'b'}];
}

/**
 * A loop over `count` steps reading every cursor: a copy without wrapping checks for the
 * usual layout (tfjs keeps a packed matrix's row pairs on texel rows unless the texture
 * would be too large), and the general one. Steps run two per iteration: on a software GPU
 * the loop's own bookkeeping costs about as much as a step's arithmetic.
 */
function walkGlsl(walked: Walked[], count: string, body: (last: string) => string): string {
  const all = (part: (c: CursorGlsl) => string, separator: string) => walked.map(w => part(w.cursor)).join(separator);
  const step = (last: string, advance: string) => `
        {
          ${walked.map(w => `vec4 ${w.as} = ${w.cursor.fetch};`).join('\n          ')}
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
      ${all(c => c.declare, '\n      ')}
      if (${all(c => c.plain, ' && ')}) {
        ${loop(all(c => c.plainAdvance, ' '))}
      } else {
        ${loop(all(c => c.advance, ' '))}
      }
    }`;
}

/**
 * acc(r, c) += Σ_d a(r, d) · b(c, d) for row pairs r of `a` and c of `b` (both stepping
 * along columns), over d < `dim`.
 */
export function rowDotRowGlsl(acc: string, a: Cursor, b: Cursor, dim: string): string {
  // An odd dim's last texel holds one real column: only its .x and .z count.
  return walkGlsl(cursors(a, b), `(${dim} + 1) / 2`, last => `
        if (${last} && (${dim} & 1) == 1) { a.yw = vec2(0.0); }
        ${acc} += a.xxzz * b.xzxz + a.yyww * b.ywyw;`);
}

/**
 * acc(r, c) += Σ_j tile(r, j) · m(j, c) over `pairs` key pairs: `tile` steps along its
 * columns, `m` along its rows. The last pair's second row of m is padding when `padded`.
 */
export function tileTimesMatrixGlsl(acc: string, tile: Cursor, m: Cursor, pairs: string, padded: string): string {
  return walkGlsl(cursors(tile, m), pairs, last => `
        if (${last} && ${padded}) b.zw = vec2(0.0);
        ${acc} += a.xxzz * b.xyxy + a.yyww * b.zwzw;`);
}

/**
 * acc(r, c) += Σ_i tile(i, r) · m(i, c) over `pairs` row pairs: the tile's transpose times
 * m, both stepping along rows. The last pair's second row of m is padding when `padded`.
 */
export function tileTransposedTimesMatrixGlsl(acc: string, tile: Cursor, m: Cursor, pairs: string, padded: string): string {
  return walkGlsl(cursors(tile, m), pairs, last => `
        if (${last} && ${padded}) b.zw = vec2(0.0);
        ${acc} += a.xxyy * b.xyxy + a.zzww * b.zwzw;`);
}

/**
 * A loop over `count` texels of one input stepping along its columns (a row pair's keys),
 * `body` reading each as `texel`.
 */
export function rowTexelsGlsl(c: Cursor, count: string, body: string): string {
  return walkGlsl([{cursor: cursorGlsl(c, 'cursor'), as: 'texel'}], count, () => body);
}

/** Zeroes the padding row and column of a packed output block at (row, col). */
export function zeroPaddingGlsl(result: string, row: string, rows: string, col: string, cols: string): string {
  return `
    if (${row} + 1 >= ${rows}) ${result}.zw = vec2(0.0);
    if (${col} + 1 >= ${cols}) ${result}.yw = vec2(0.0);`;
}
