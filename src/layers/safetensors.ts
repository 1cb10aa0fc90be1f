/**
 * The safetensors format: an 8-byte little-endian header length n, n bytes of JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}, then the raw
 * little-endian tensor data, offsets counted from the end of the header. The entries must
 * tile the data section exactly: no overlaps, no holes, no trailing bytes (the format's rule
 * against polyglot files).
 */

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  /** The entry's raw little-endian bytes. */
  bytes: Uint8Array;
}

/** Bytes per element of the dtypes this reader knows; a Map, so that no prototype key counts as a dtype. */
const ITEM_SIZES = new Map<string, number>(
    [['F64', 8], ['F32', 4], ['F16', 2], ['BF16', 2], ['I64', 8], ['I32', 4], ['I16', 2], ['I8', 1], ['U8', 1]]);

function fail(what: string): never {
  throw new Error(`safetensors: ${what}`);
}

function checkTiling(ranges: Array<{name: string, begin: number, end: number}>, dataBytes: number): void {
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous = '';
  for (const {name, begin, end} of ranges) {
    if (begin < covered) fail(`'${name}' data_offsets [${begin}, ${end}] overlap those of '${previous}'`);
    if (begin > covered) fail(`data bytes [${covered}, ${begin}) belong to no tensor`);
    covered = end;
    previous = name;
  }
  if (covered < dataBytes) fail(`${dataBytes - covered} trailing data bytes belong to no tensor`);
}

/** The entries of a safetensors file, by name (metadata left out). Validates dtypes, shapes and offsets. */
export function parseSafetensors(data: Uint8Array): Map<string, SafetensorsEntry> {
  if (data.byteLength < 8) fail(`file too short for a header (${data.byteLength} bytes)`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > data.byteLength) {
    fail(`header length ${headerLength} exceeds the file (${data.byteLength} bytes)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(data.subarray(8, 8 + headerLength)));
  } catch (e) {
    fail(`header is not JSON (${(e as Error).message})`);
  }
  if (header == null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const body = data.subarray(8 + headerLength);
  const entries = new Map<string, SafetensorsEntry>();
  const ranges: Array<{name: string, begin: number, end: number}> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const {dtype, shape, data_offsets: offsets} = (raw ?? {}) as Record<string, unknown>;
    const itemSize = typeof dtype === 'string' ? ITEM_SIZES.get(dtype) : undefined;
    if (itemSize == null) fail(`'${name}' has unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(d => Number.isInteger(d) && d >= 0)) {
      fail(`'${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(o => Number.isInteger(o))) {
      fail(`'${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    const expected = (shape as number[]).reduce((a, b) => a * b, 1) * itemSize;
    if (begin < 0 || end < begin || end > body.byteLength || end - begin !== expected) {
      fail(`'${name}' (${dtype} [${shape}]) has data_offsets [${begin}, ${end}] that do not fit ${expected} bytes ` +
           `in a data section of ${body.byteLength} bytes`);
    }
    ranges.push({name, begin, end});
    entries.set(name, {dtype: dtype as string, shape: shape as number[], bytes: body.subarray(begin, end)});
  }
  checkTiling(ranges, body.byteLength);
  return entries;
}

/**
 * A safetensors file of `entries`, stored in their order. The header is padded with spaces to
 * a multiple of 8 bytes, as the reference writer does, so that every tensor's data is aligned.
 */
export function serializeSafetensors(entries: Map<string, SafetensorsEntry>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, {dtype, shape, bytes}] of entries) {
    const itemSize = ITEM_SIZES.get(dtype);
    const size = shape.reduce((a, b) => a * b, 1);
    if (itemSize == null || bytes.byteLength !== size * itemSize) {
      fail(`cannot write '${name}': ${bytes.byteLength} bytes of dtype ${dtype} for shape [${shape}]`);
    }
    header[name] = {dtype, shape, data_offsets: [offset, offset + bytes.byteLength]};
    offset += bytes.byteLength;
  }
  const json = JSON.stringify(header);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.fill(0x20, 8, 8 + headerLength);
  out.set(new TextEncoder().encode(json), 8);
  let position = 8 + headerLength;
  for (const {bytes} of entries.values()) {
    out.set(bytes, position);
    position += bytes.byteLength;
  }
  return out;
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** The entry's values as float32 (integers and wider floats converted). */
export function entryToFloat32(entry: SafetensorsEntry): Float32Array {
  const {dtype, bytes} = entry;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = ITEM_SIZES.get(dtype);
  if (size == null) fail(`unsupported dtype ${JSON.stringify(dtype)}`);
  const out = new Float32Array(bytes.byteLength / size);
  const read: (offset: number) => number = {
    F64: (o: number) => view.getFloat64(o, true),
    F32: (o: number) => view.getFloat32(o, true),
    F16: (o: number) => halfToFloat(view.getUint16(o, true)),
    BF16: (o: number) => new Float32Array(new Uint32Array([view.getUint16(o, true) << 16]).buffer)[0],
    I64: (o: number) => Number(view.getBigInt64(o, true)),
    I32: (o: number) => view.getInt32(o, true),
    I16: (o: number) => view.getInt16(o, true),
    I8: (o: number) => view.getInt8(o),
    U8: (o: number) => view.getUint8(o),
  }[dtype]!;
  for (let i = 0; i < out.length; i++) out[i] = read(i * size);
  return out;
}
