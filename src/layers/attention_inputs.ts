/**
 * How MultiHeadAttention reads its input list. tfjs-layers hands a layer in a graph only the
 * tensors of its input list (predict() and fit() drop the kwargs given when it was wired), so
 * a mask or bias that is a graph tensor travels as an input, and the layer keeps a layout
 * that says which role each input fills. Each distinct tensor appears once in the list: the
 * same tensor twice in one layer's inputs is disposed early by tfjs-layers' predict().
 */

export const INPUT_ROLES = ['query', 'value', 'key', 'attentionMask', 'attentionBias'] as const;
export type InputRole = typeof INPUT_ROLES[number];

/** For each entry of the input list, the roles it fills: e.g. [['query', 'value', 'key'], ['attentionMask']]. */
export type InputLayout = InputRole[][];

export type RoleValues<T> = {query: T, value: T, key: T, attentionMask?: T, attentionBias?: T};

/** The layout of the plain forms: x (self-attention), [query, value] or [query, value, key]. */
export function positionalLayout(count: number, layer: string): InputLayout {
  switch (count) {
    case 1: return [['query', 'value', 'key']];
    case 2: return [['query'], ['value', 'key']];
    case 3: return [['query'], ['value'], ['key']];
    default:
      throw new Error(
          `${layer}: inputs must be x, [query, value] or [query, value, key], got ${count} inputs; ` +
          'masks and biases go in as the attentionMask and attentionBias kwargs');
  }
}

/** The roles' values: `values[i]` fills the roles of `layout[i]`. */
export function readRoles<T>(values: T[], layout: InputLayout, layer: string): RoleValues<T> {
  if (values.length !== layout.length) {
    throw new Error(`${layer}: expected ${layout.length} inputs ${describeLayout(layout)}, got ${values.length}`);
  }
  const roles: Partial<RoleValues<T>> = {};
  layout.forEach((entry, i) => entry.forEach(role => roles[role] = values[i]));
  return roles as RoleValues<T>;
}

/** The roles' distinct values in role order, and the layout that reads them back. */
export function packRoles<T>(roles: RoleValues<T>): {values: T[], layout: InputLayout} {
  const values: T[] = [];
  const layout: InputLayout = [];
  for (const role of INPUT_ROLES) {
    const value = roles[role];
    if (value === undefined) continue;
    const index = values.indexOf(value);
    if (index >= 0) {
      layout[index].push(role);
    } else {
      values.push(value);
      layout.push([role]);
    }
  }
  return {values, layout};
}

export function sameLayout(a: InputLayout, b: InputLayout): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** e.g. `[query=value=key, attentionMask]`. */
export function describeLayout(layout: InputLayout): string {
  return `[${layout.map(entry => entry.join('=')).join(', ')}]`;
}

/** Throws unless `layout` is a list of role lists, each role once, with query, value and key. */
export function checkLayout(layout: unknown, layer: string): asserts layout is InputLayout {
  const roles = Array.isArray(layout) && layout.every(Array.isArray) ? (layout as unknown[][]).flat() : null;
  const valid = roles != null && roles.every(r => INPUT_ROLES.includes(r as InputRole)) &&
      new Set(roles).size === roles.length && ['query', 'value', 'key'].every(r => roles.includes(r));
  if (!valid) {
    throw new Error(
        `${layer}: inputLayout must list, for each input, the roles it fills (${INPUT_ROLES.join(', ')}; ` +
        `query, value and key required), got ${JSON.stringify(layout)}`);
  }
}
