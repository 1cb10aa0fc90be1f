/**
 * Argument checks shared by the Swin layers and model builders. Each throws an Error naming
 * its owner (a layer, or a model builder) and the argument, before anything is allocated.
 */

function describe(value: unknown): string {
  const plain = typeof value === 'number' || typeof value === 'boolean' || value == null;
  return plain ? String(value) : JSON.stringify(value);
}

export function checkPositiveInteger(owner: string, name: string, value: unknown): void {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 1)) {
    throw new Error(`${owner}: ${name} must be a positive integer, got ${describe(value)}`);
  }
}

export function checkNonNegativeInteger(owner: string, name: string, value: unknown): void {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 0)) {
    throw new Error(`${owner}: ${name} must be a non-negative integer, got ${describe(value)}`);
  }
}

export function checkPositiveNumber(owner: string, name: string, value: unknown): void {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
    throw new Error(`${owner}: ${name} must be a positive number, got ${describe(value)}`);
  }
}

/** A dropout or stochastic depth rate: in [0, 1). */
export function checkRate(owner: string, name: string, value: unknown): void {
  if (!(typeof value === 'number' && value >= 0 && value < 1)) {
    throw new Error(`${owner}: ${name} must be a rate in [0, 1), got ${describe(value)}`);
  }
}

export function checkBoolean(owner: string, name: string, value: unknown): void {
  if (typeof value !== 'boolean') throw new Error(`${owner}: ${name} must be true or false, got ${describe(value)}`);
}

/** A [height, width] pair of positive integers. */
export function checkResolution(owner: string, name: string, value: unknown): void {
  if (!(Array.isArray(value) && value.length === 2 &&
        value.every(v => typeof v === 'number' && Number.isInteger(v) && v >= 1))) {
    throw new Error(`${owner}: ${name} must be [height, width] of positive integers, got ${describe(value)}`);
  }
}

/** `${className} '${name}'`: how a layer names itself in its errors. */
export function layerOwner(className: string, name: string): string {
  return `${className} '${name}'`;
}
