/**
 * GLSL loops on packed texels (2×2 blocks) shared by the programs. Each accumulates a
 * 2×2 block of products into `acc`, and zeroes the padding row or column of an odd size
 * so that whatever an earlier program left there cannot leak in (0 · NaN is NaN).
 *
 * The loops walk their inputs with a cursor that steps a fixed number of texels, instead
 * of tfjs's samplers, which redo integer divisions for every fetch: on a software GPU
 * (SwiftShader) those divisions cost as much as the arithmetic. The cursor is a texel
 * center read with texture() (tfjs's textures filter NEAREST): on SwiftShader a loop of
 * texture() reads took 0.7× the time of the same loop of texelFetch(), and the reads,
 * not the arithmetic, set the speed of these loops.
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
  /** Declares the texture's size and scale. */
  declare: string;
  /** Whether the texture is plain: one texel row per row pair, so steps never wrap. */
  plain: string;
  /** Declares the cursor, a texel center (exact in float), at its start when plain: no division. */
  plainStart: string;
  /** Declares the cursor at its start in any layout, and what wrapping steps need. */
  generalStart: string;
  /** Reads the texel `offset` steps ahead (0 in the general layout, where steps can wrap). */
  fetch: (offset: number) => string;
  /** Moves `steps` steps ahead, when plain. */
  plainAdvance: (steps: number) => string;
  /** Steps once in any layout (wrapping at the texture's width). */
  advance: string;
}

/** GLSL of cursor `name`: its declarations, reads and steps. */
function cursorGlsl(c: Cursor, name: string): CursorGlsl {
  const [, rows, cols] = c.shape;
  const texelsPerRowPair = Math.ceil(cols / 2);
  const rowPairsPerHead = Math.ceil(rows / 2);
  const step = c.along === 'col' ? 1 : texelsPerRowPair;
  const [h, r, col] = c.start;
  const along = c.along === 'col' ? 'x' : 'y';
  const offset = (n: number) => c.along === 'col' ? `vec2(${n}.0, 0.0)` : `vec2(0.0, ${n}.0)`;
  // The start expressions are never negative, so halving is a shift (SwiftShader divides
  // integers lane by lane, even by constants).
  return {
    declare: `
      ivec2 ${name}Size = textureSize(${c.input}, 0);
      vec2 ${name}Scale = 1.0 / vec2(${name}Size);`,
    plain: `${name}Size.x == ${texelsPerRowPair}`,
    plainStart: `
        vec2 ${name} = vec2((${col}) >> 1, (${h}) * ${rowPairsPerHead} + ((${r}) >> 1)) + 0.5;`,
    generalStart: `
        int ${name}Index = ((${h}) * ${rowPairsPerHead} + ((${r}) >> 1)) * ${texelsPerRowPair} + ((${col}) >> 1);
        vec2 ${name} = vec2(${name}Index % ${name}Size.x, ${name}Index / ${name}Size.x) + 0.5;
        vec2 ${name}Step = vec2(${step} % ${name}Size.x, ${step} / ${name}Size.x);
        float ${name}Width = float(${name}Size.x);`,
    fetch: n => `texture(${c.input}, ${n === 0 ? name : `(${name} + ${offset(n)})`} * ${name}Scale)`,
    plainAdvance: n => `${name}.${along} += ${n}.0;`,
    advance: `
        ${name} += ${name}Step;
        if (${name}.x > ${name}Width) { ${name}.x -= ${name}Width; ${name}.y++; }`,
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

/** Steps per iteration of the plain loops (4, 16 and 32 measured no faster at [1,8,1024,64]). */
const UNROLL = 8;

/**
 * A loop over `count` steps reading every cursor, `body` at each step; when `lastBody` is
 * given, the last step runs it instead (the padding of an odd size). A copy for the usual
 * layout (tfjs keeps a packed matrix's row pairs on texel rows unless the texture would be
 * too large) runs UNROLL steps per iteration, reading at constant offsets from the cursors'
 * centers: fewer loop branches and cursor updates, and reads that do not wait on each
 * other (loops reading down a texture's rows gained most).
 */
function walkGlsl(walked: Walked[], count: string, body: string, lastBody?: string): string {
  const all = (part: (c: CursorGlsl) => string) => walked.map(w => part(w.cursor)).join(' ');
  const step = (fetch: (c: CursorGlsl) => string, stepBody: string, advance: string) => `
        {
          ${walked.map(w => `vec4 ${w.as} = ${fetch(w.cursor)};`).join(' ')}
          ${stepBody}
          ${advance}
        }`;
  const steps = lastBody != null ? `(${count}) - 1` : count;
  const plainLoop = `
        ${all(c => c.plainStart)}
        int step = 0;
        for (; step + ${UNROLL} <= ${steps}; step += ${UNROLL}) {
          ${Array.from({length: UNROLL}, (_, n) => step(c => c.fetch(n), body, '')).join('')}
          ${all(c => c.plainAdvance(UNROLL))}
        }
        for (; step < ${steps}; step++) ${step(c => c.fetch(0), body, all(c => c.plainAdvance(1)))}
        ${lastBody != null ? `if (${count} > 0) ${step(c => c.fetch(0), lastBody, '')}` : ''}`;
  const generalLoop = `
        ${all(c => c.generalStart)}
        for (int step = 0; step < ${steps}; step++) ${step(c => c.fetch(0), body, all(c => c.advance))}
        ${lastBody != null ? `if (${count} > 0) ${step(c => c.fetch(0), lastBody, '')}` : ''}`;
  return `
    {
      ${walked.map(w => w.cursor.declare).join('\n      ')}
      if (${walked.map(w => w.cursor.plain).join(' && ')}) {
        ${plainLoop}
      } else {
        ${generalLoop}
      }
    }`;
}

/**
 * acc(r, c) += Σ_d a(r, d) · b(c, d) for row pairs r of `a` and c of `b` (both stepping
 * along columns), over d < `dim` (a constant).
 */
export function rowDotRowGlsl(acc: string, a: Cursor, b: Cursor, dim: number): string {
  const product = `${acc} += a.xxzz * b.xzxz + a.yyww * b.ywyw;`;
  // An odd dim's last texel holds one real column: only its .x and .z count.
  return walkGlsl(
      cursors(a, b), `${Math.ceil(dim / 2)}`, product, dim % 2 === 1 ? `a.yw = vec2(0.0); ${product}` : undefined);
}

/**
 * acc(r, c) += Σ_j tile(r, j) · m(j, c) over `pairs` pairs of j: `tile` steps along its
 * columns, `m` along its rows. The last pair's second row of m is padding when `padded`
 * (null: never). With `skipZeroWeights`, a row of m is not read where the tile is 0 (a
 * masked key's value, docs/contract.md §7: 0 · NaN would be NaN).
 */
export function tileTimesMatrixGlsl(
    acc: string, tile: Cursor, m: Cursor, pairs: string, padded: string | null, skipZeroWeights = false): string {
  const zero = 'vec4(0.0)';
  const term = (w: string, m: string) =>
      skipZeroWeights ? `mix(${zero}, ${w} * ${m}, notEqual(${w}, ${zero}))` : `${w} * ${m}`;
  const product = `${acc} += ${term('a.xxzz', 'b.xyxy')} + ${term('a.yyww', 'b.zwzw')};`;
  return walkGlsl(
      cursors(tile, m), pairs, product, padded != null ? `if (${padded}) b.zw = vec2(0.0); ${product}` : undefined);
}

/**
 * A loop over `count` texels of one input stepping along its columns (a row pair's keys),
 * `body` reading each as `texel`.
 */
export function rowTexelsGlsl(c: Cursor, count: string, body: string): string {
  return walkGlsl([{cursor: cursorGlsl(c, 'cursor'), as: 'texel'}], count, body);
}

/** Zeroes the padding row and column of a packed output block at (row, col). */
export function zeroPaddingGlsl(result: string, row: string, rows: string, col: string, cols: string): string {
  return `
    if (${row} + 1 >= ${rows}) ${result}.zw = vec2(0.0);
    if (${col} + 1 >= ${cols}) ${result}.yw = vec2(0.0);`;
}
