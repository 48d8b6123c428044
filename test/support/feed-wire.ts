/**
 * A hand-rolled protobuf wire writer for golden frames. It knows nothing about our .proto: tests spell each
 * field number and wire type out from the tables in shared/upstox-feed-v3.md §3, so a wrong number in
 * proto/MarketDataFeedV3.proto makes the golden tests fail instead of silently round-tripping.
 *
 * Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
 */

export type Bytes = readonly number[];

/** Unsigned/positive varint (int64 values here are epoch ms and quantities, < 2^53). */
export function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  if (v < 0n) v = (1n << 64n) + v; // two's complement, 10 bytes
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

export function tag(field: number, wireType: 0 | 1 | 2 | 5): number[] {
  return varint((field << 3) | wireType);
}

/** int64 / enum / bool field (wire type 0). */
export function vint(field: number, value: number | bigint | boolean): number[] {
  return [...tag(field, 0), ...varint(typeof value === 'boolean' ? (value ? 1 : 0) : value)];
}

/** double field (wire type 1, little-endian IEEE 754). */
export function dbl(field: number, value: number): number[] {
  const buf = Buffer.alloc(8);
  buf.writeDoubleLE(value);
  return [...tag(field, 1), ...buf];
}

/** Embedded message field (wire type 2). */
export function msg(field: number, ...parts: Bytes[]): number[] {
  const body = parts.flat();
  return [...tag(field, 2), ...varint(body.length), ...body];
}

/** string field (wire type 2, UTF-8). */
export function str(field: number, value: string): number[] {
  const body = [...Buffer.from(value, 'utf8')];
  return [...tag(field, 2), ...varint(body.length), ...body];
}

/**
 * One map entry: a message with key = 1, value = 2 (how protobuf encodes `map<K, V>`). `value` is the
 * already-tagged value field, e.g. `vint(2, status)` for an enum value or `msg(2, ...)` for a message.
 */
export function mapEntry(field: number, key: string, value: Bytes): number[] {
  return msg(field, str(1, key), value);
}

/** A `map<string, Message>` entry whose message body is `parts`. */
export function mapMsg(field: number, key: string, ...parts: Bytes[]): number[] {
  return mapEntry(field, key, msg(2, ...parts));
}

export function frame(...parts: Bytes[]): Uint8Array {
  return Uint8Array.from(parts.flat());
}
