// A small DER encoder and TLV reader: just what X.509 certificates and PKCS#10 requests need.
// The encoder builds each TLV with a single allocation; the reader returns views (subarray) over the
// input and never copies. Every malformed input ends in a thrown DerError, never in a loop or a crash.

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Encoder

function headerLength(contentLength: number): number {
  if (contentLength < 0x80) return 2;
  if (contentLength < 0x100) return 3;
  if (contentLength < 0x10000) return 4;
  if (contentLength < 0x1000000) return 5;
  return 6;
}

function writeHeader(out: Buffer, tag: number, contentLength: number, hl: number): void {
  out[0] = tag;
  if (hl === 2) {
    out[1] = contentLength;
    return;
  }
  const n = hl - 2;
  out[1] = 0x80 | n;
  for (let i = 0, v = contentLength; i < n; i++, v = Math.floor(v / 256)) out[hl - 1 - i] = v & 0xff;
}

function checkTag(tag: number): void {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new DerError(`unsupported tag ${tag}`);
  }
}

/** Just the identifier and length octets of a TLV whose content is `contentLength` bytes long. */
export function encodeHeader(tag: number, contentLength: number): Buffer {
  checkTag(tag);
  if (!Number.isInteger(contentLength) || contentLength < 0 || contentLength > 0xffffffff) {
    throw new DerError(`unsupported length ${contentLength}`);
  }
  const hl = headerLength(contentLength);
  const out = Buffer.allocUnsafe(hl);
  writeHeader(out, tag, contentLength, hl);
  return out;
}

/** One TLV: `tag` (a single identifier octet) around the concatenation of `content`. */
export function encodeDer(tag: number, content: Buffer | readonly Buffer[]): Buffer {
  checkTag(tag);
  if (Buffer.isBuffer(content)) {
    const hl = headerLength(content.length);
    const out = Buffer.allocUnsafe(hl + content.length);
    writeHeader(out, tag, content.length, hl);
    content.copy(out, hl);
    return out;
  }
  let len = 0;
  for (const part of content) len += part.length;
  const hl = headerLength(len);
  const out = Buffer.allocUnsafe(hl + len);
  writeHeader(out, tag, len, hl);
  let off = hl;
  for (const part of content) {
    part.copy(out, off);
    off += part.length;
  }
  return out;
}

export function encodeSequence(...items: Buffer[]): Buffer {
  return encodeDer(Tag.SEQUENCE, items);
}

/** A DER SET OF: the encodings are sorted, as DER requires. */
export function encodeSet(...items: Buffer[]): Buffer {
  return encodeDer(Tag.SET, [...items].sort(Buffer.compare));
}

/** Non-negative INTEGER from an unsigned big-endian magnitude (or a safe integer / bigint), minimally encoded. */
export function encodeInteger(value: Buffer | number | bigint): Buffer {
  let magnitude: Buffer;
  if (Buffer.isBuffer(value)) {
    magnitude = value;
  } else {
    let v = BigInt(value);
    if (v < 0n) throw new DerError('negative integers are not supported');
    const bytes: number[] = [];
    while (v > 0n) {
      bytes.unshift(Number(v & 0xffn));
      v >>= 8n;
    }
    magnitude = Buffer.from(bytes);
  }
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const significant = magnitude.subarray(start);
  if (significant.length === 0) return Buffer.from([Tag.INTEGER, 1, 0]);
  if (significant[0] & 0x80) return encodeDer(Tag.INTEGER, [ZERO_OCTET, significant]);
  return encodeDer(Tag.INTEGER, significant);
}

const ZERO_OCTET = Buffer.from([0]);

const oidCache = new Map<string, Buffer>();

/** OBJECT IDENTIFIER from dotted form. Cached: the returned Buffer is shared and must not be mutated. */
export function encodeOid(dotted: string): Buffer {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  const arcs = dotted.split('.');
  if (arcs.length < 2 || !arcs.every((a) => /^(0|[1-9][0-9]*)$/.test(a))) {
    throw new DerError(`invalid object identifier "${dotted}"`);
  }
  const values = arcs.map((a) => BigInt(a));
  if (values[0] > 2n || (values[0] < 2n && values[1] >= 40n)) {
    throw new DerError(`invalid object identifier "${dotted}"`);
  }
  const subidentifiers = [values[0] * 40n + values[1], ...values.slice(2)];
  const bytes: number[] = [];
  for (const sub of subidentifiers) {
    const chunk: number[] = [Number(sub & 0x7fn)];
    for (let v = sub >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    bytes.push(...chunk);
  }
  const encoded = encodeDer(Tag.OID, Buffer.from(bytes));
  oidCache.set(dotted, encoded);
  return encoded;
}

export function encodeUtf8String(value: string): Buffer {
  return encodeDer(Tag.UTF8_STRING, Buffer.from(value, 'utf8'));
}

/** The bytes of an IA5 (7-bit ASCII) string; throws for anything else. */
export function ia5Bytes(value: string): Buffer {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) throw new DerError(`"${value}" is not an IA5String (ASCII only)`);
  }
  return Buffer.from(value, 'latin1');
}

export function encodeBitString(bytes: Buffer, unusedBits = 0): Buffer {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new DerError(`invalid BIT STRING unused bit count ${unusedBits}`);
  }
  return encodeDer(Tag.BIT_STRING, [Buffer.from([unusedBits]), bytes]);
}

export function encodeOctetString(bytes: Buffer): Buffer {
  return encodeDer(Tag.OCTET_STRING, bytes);
}

const DER_NULL = Buffer.from([Tag.NULL, 0]);

export function encodeNull(): Buffer {
  return Buffer.from(DER_NULL);
}

function twoDigits(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function timeDigits(date: Date): string {
  return (
    twoDigits(date.getUTCMonth() + 1) +
    twoDigits(date.getUTCDate()) +
    twoDigits(date.getUTCHours()) +
    twoDigits(date.getUTCMinutes()) +
    twoDigits(date.getUTCSeconds()) +
    'Z'
  );
}

function checkDate(date: Date): number {
  const t = date instanceof Date ? date.getTime() : NaN;
  if (!Number.isFinite(t)) throw new DerError('invalid date');
  return date.getUTCFullYear();
}

/** UTCTime (YYMMDDHHMMSSZ); only for 1950 <= year < 2050. Sub-second precision is dropped. */
export function encodeUtcTime(date: Date): Buffer {
  const year = checkDate(date);
  if (year < 1950 || year >= 2050) throw new DerError(`year ${year} cannot be a UTCTime`);
  return encodeDer(Tag.UTC_TIME, Buffer.from(twoDigits(year % 100) + timeDigits(date), 'latin1'));
}

/** GeneralizedTime (YYYYMMDDHHMMSSZ). Sub-second precision is dropped. */
export function encodeGeneralizedTime(date: Date): Buffer {
  const year = checkDate(date);
  if (year < 0 || year > 9999) throw new DerError(`year ${year} cannot be a GeneralizedTime`);
  return encodeDer(Tag.GENERALIZED_TIME, Buffer.from(String(year).padStart(4, '0') + timeDigits(date), 'latin1'));
}

/** The RFC 5280 choice of Time: UTCTime through 2049, GeneralizedTime from 2050. */
export function encodeTime(date: Date): Buffer {
  const year = checkDate(date);
  return year >= 1950 && year < 2050 ? encodeUtcTime(date) : encodeGeneralizedTime(date);
}

/** [n] EXPLICIT: a constructed context tag around one complete encoding. */
export function encodeExplicit(tagNumber: number, inner: Buffer): Buffer {
  return encodeDer(0xa0 | contextNumber(tagNumber), inner);
}

/** [n] IMPLICIT: the context tag replaces the element's own tag; `content` is the element's content octets. */
export function encodeImplicit(tagNumber: number, content: Buffer | readonly Buffer[], constructed = false): Buffer {
  return encodeDer((constructed ? 0xa0 : 0x80) | contextNumber(tagNumber), content);
}

function contextNumber(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new DerError(`unsupported context tag number ${n}`);
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Reader

export type TagClass = 'universal' | 'application' | 'context' | 'private';

const TAG_CLASSES: readonly TagClass[] = ['universal', 'application', 'context', 'private'];

/** One TLV inside `buf`: offsets only, the bytes stay where they are. */
export class DerNode {
  constructor(
    readonly buf: Buffer,
    readonly tag: number,
    /** Offset of the identifier octet. */
    readonly start: number,
    readonly headerLength: number,
    /** Length of the content octets. */
    readonly length: number,
  ) {}

  get contentStart(): number {
    return this.start + this.headerLength;
  }

  /** Offset just past the content. */
  get end(): number {
    return this.start + this.headerLength + this.length;
  }

  get constructed(): boolean {
    return (this.tag & 0x20) !== 0;
  }

  get tagClass(): TagClass {
    return TAG_CLASSES[this.tag >> 6];
  }

  get tagNumber(): number {
    return this.tag & 0x1f;
  }

  /** The content octets (a view). */
  content(): Buffer {
    return this.buf.subarray(this.contentStart, this.end);
  }

  /** The whole TLV, header included (a view): what signatures cover. */
  raw(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  expect(tag: number, what = 'element'): this {
    if (this.tag !== tag) {
      throw new DerError(`${what}: expected tag 0x${hex2(tag)}, found 0x${hex2(this.tag)} at offset ${this.start}`);
    }
    return this;
  }

  /** The TLVs directly inside a constructed element, in order. */
  children(): DerNode[] {
    if (!this.constructed) throw new DerError(`primitive element at offset ${this.start} has no children`);
    const out: DerNode[] = [];
    const end = this.end;
    for (let off = this.contentStart; off < end; ) {
      const child = readTlv(this.buf, off, end);
      out.push(child);
      off = child.end;
    }
    return out;
  }

  /** Children of a SEQUENCE (or other constructed element) whose count must lie in [min, max]. */
  items(min: number, max = min, what = 'element'): DerNode[] {
    const children = this.children();
    if (children.length < min || children.length > max) {
      throw new DerError(
        `${what}: expected ${min === max ? min : `${min} to ${max}`} elements, found ${children.length}`,
      );
    }
    return children;
  }

  oid(): string {
    this.expect(Tag.OID, 'object identifier');
    return decodeOidContent(this.content());
  }

  /** Whether this is the OBJECT IDENTIFIER whose full encoding (from `encodeOid`) is `encodedOid`. */
  isOid(encodedOid: Buffer): boolean {
    return this.tag === Tag.OID && this.raw().equals(encodedOid);
  }

  /** INTEGER content as two's complement bytes (a view); checks minimal encoding. */
  integer(): Buffer {
    this.expect(Tag.INTEGER, 'integer');
    const c = this.content();
    if (c.length === 0) throw new DerError(`empty INTEGER at offset ${this.start}`);
    if (c.length > 1 && ((c[0] === 0 && (c[1] & 0x80) === 0) || (c[0] === 0xff && (c[1] & 0x80) !== 0))) {
      throw new DerError(`non-minimal INTEGER at offset ${this.start}`);
    }
    return c;
  }

  /** A non-negative INTEGER's magnitude without sign padding (a view). */
  unsignedInteger(): Buffer {
    const c = this.integer();
    if (c[0] & 0x80) throw new DerError(`negative INTEGER at offset ${this.start}`);
    return c[0] === 0 && c.length > 1 ? c.subarray(1) : c;
  }

  /** A small non-negative INTEGER as a number. */
  smallInteger(): number {
    const c = this.unsignedInteger();
    if (c.length > 6) throw new DerError(`INTEGER too large at offset ${this.start}`);
    return c.readUIntBE(0, c.length);
  }

  boolean(): boolean {
    this.expect(Tag.BOOLEAN, 'boolean');
    const c = this.content();
    if (c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) throw new DerError(`invalid BOOLEAN at offset ${this.start}`);
    return c[0] === 0xff;
  }

  bitString(): { unusedBits: number; bytes: Buffer } {
    this.expect(Tag.BIT_STRING, 'bit string');
    const c = this.content();
    if (c.length === 0 || c[0] > 7 || (c.length === 1 && c[0] !== 0)) {
      throw new DerError(`invalid BIT STRING at offset ${this.start}`);
    }
    return { unusedBits: c[0], bytes: c.subarray(1) };
  }

  octetString(): Buffer {
    return this.expect(Tag.OCTET_STRING, 'octet string').content();
  }

  /** A UTCTime or GeneralizedTime. */
  time(): Date {
    const s = this.content().toString('latin1');
    let m: RegExpExecArray | null;
    let year: number;
    if (this.tag === Tag.UTC_TIME) {
      m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
      if (!m) throw new DerError(`invalid UTCTime "${s}"`);
      const yy = Number(m[1]);
      year = yy < 50 ? 2000 + yy : 1900 + yy;
    } else if (this.tag === Tag.GENERALIZED_TIME) {
      m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/.exec(s);
      if (!m) throw new DerError(`invalid GeneralizedTime "${s}"`);
      year = Number(m[1]);
    } else {
      throw new DerError(`expected a time at offset ${this.start}, found tag 0x${hex2(this.tag)}`);
    }
    const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map(Number);
    const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    if (
      date.getUTCFullYear() !== year ||
      date.getUTCMonth() !== month - 1 ||
      date.getUTCDate() !== day ||
      hour > 23 ||
      minute > 59 ||
      second > 59
    ) {
      throw new DerError(`invalid time "${s}"`);
    }
    return date;
  }

  /** The text of a UTF8String, PrintableString, IA5String (or another 8-bit string type). */
  string(): string {
    const c = this.content();
    return this.tag === Tag.UTF8_STRING ? c.toString('utf8') : c.toString('latin1');
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Reads the TLV starting at `offset`; it must end at or before `limit`. */
export function readTlv(buf: Buffer, offset: number, limit: number = buf.length): DerNode {
  if (limit > buf.length) limit = buf.length;
  if (offset + 2 > limit) throw new DerError(`truncated DER at offset ${offset}`);
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-octet tags are not supported (offset ${offset})`);
  const first = buf[offset + 1];
  let length: number;
  let hl = 2;
  if (first < 0x80) {
    length = first;
  } else if (first === 0x80) {
    throw new DerError(`indefinite length is not DER (offset ${offset})`);
  } else {
    const n = first & 0x7f;
    if (n > 4) throw new DerError(`length too large at offset ${offset}`);
    if (offset + 2 + n > limit) throw new DerError(`truncated DER length at offset ${offset}`);
    if (buf[offset + 2] === 0) throw new DerError(`non-minimal length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[offset + 2 + i];
    if (length < 0x80) throw new DerError(`non-minimal length at offset ${offset}`);
    hl = 2 + n;
  }
  if (offset + hl + length > limit) {
    throw new DerError(`truncated DER: element at offset ${offset} needs ${length} bytes, ${limit - offset - hl} left`);
  }
  return new DerNode(buf, tag, offset, hl, length);
}

/** Parses a buffer that must hold exactly one TLV (no trailing bytes). */
export function parseDer(buf: Buffer): DerNode {
  if (!Buffer.isBuffer(buf)) throw new DerError('expected a Buffer');
  const node = readTlv(buf, 0, buf.length);
  if (node.end !== buf.length) throw new DerError(`${buf.length - node.end} trailing bytes after DER element`);
  return node;
}

function decodeOidContent(c: Buffer): string {
  if (c.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  if (c[c.length - 1] & 0x80) throw new DerError('truncated OBJECT IDENTIFIER');
  const subs: bigint[] = [];
  let v = 0n;
  let startOfSub = true;
  for (const b of c) {
    if (startOfSub && b === 0x80) throw new DerError('non-minimal OBJECT IDENTIFIER');
    v = (v << 7n) | BigInt(b & 0x7f);
    startOfSub = (b & 0x80) === 0;
    if (startOfSub) {
      subs.push(v);
      v = 0n;
    }
  }
  const first = subs[0];
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...subs.slice(1)].join('.');
}
