// A minimal protobuf *decoder*: walks the fields of one message. Used to read back what a model
// references (external data locations, for cache keys and checks) without a protobuf library.

export type ProtoField =
  | { field: number; wire: 0; value: bigint }
  | { field: number; wire: 1 | 5; value: Uint8Array }
  | { field: number; wire: 2; value: Uint8Array };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new Error(`truncated varint at byte ${pos}`);
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
  throw new Error(`varint longer than 10 bytes at byte ${pos}`);
}

/** Every field of a message, in order (sub-messages stay as bytes: decode them on demand). */
export function* protoFields(buf: Uint8Array): Generator<ProtoField> {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    pos = afterTag;
    if (wire === 0) {
      const [value, next] = readVarint(buf, pos);
      pos = next;
      yield { field, wire, value };
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (pos + size > buf.length) throw new Error(`truncated fixed${size * 8} field ${field}`);
      yield { field, wire, value: buf.subarray(pos, pos + size) };
      pos += size;
    } else if (wire === 2) {
      const [len, next] = readVarint(buf, pos);
      const end = next + Number(len);
      if (end > buf.length)
        throw new Error(`field ${field} claims ${len} bytes, only ${buf.length - next} left`);
      yield { field, wire, value: buf.subarray(next, end) };
      pos = end;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire} (field ${field}) at byte ${pos}`);
    }
  }
}

export function protoString(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/** The length-delimited payloads of one field number. */
export function protoMessages(buf: Uint8Array, field: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of protoFields(buf)) if (f.field === field && f.wire === 2) out.push(f.value);
  return out;
}
