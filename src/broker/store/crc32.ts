/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial), slice-by-8 for speed: every record on disk
 * carries one so that recovery can tell a torn or damaged record from a good one. Node 20
 * has no zlib.crc32 (it arrived in 22.2).
 */
const TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  const tables = [t0];
  for (let i = 1; i < 8; i++) {
    const prev = tables[i - 1] as Uint32Array;
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++)
      t[n] = ((prev[n] as number) >>> 8) ^ (t0[(prev[n] as number) & 0xff] as number);
    tables.push(t);
  }
  return tables;
})();

/** The CRC-32 of `buf`, continuing from `crc` (the CRC of what came before, 0 to start). */
export function crc32(buf: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let c = ~crc >>> 0;
  let i = 0;
  const n = buf.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const a =
      (c ^
        (buf[i] as number) ^
        ((buf[i + 1] as number) << 8) ^
        ((buf[i + 2] as number) << 16) ^
        ((buf[i + 3] as number) << 24)) >>>
      0;
    c =
      (t7[a & 0xff] as number) ^
      (t6[(a >>> 8) & 0xff] as number) ^
      (t5[(a >>> 16) & 0xff] as number) ^
      (t4[a >>> 24] as number) ^
      (t3[buf[i + 4] as number] as number) ^
      (t2[buf[i + 5] as number] as number) ^
      (t1[buf[i + 6] as number] as number) ^
      (t0[buf[i + 7] as number] as number);
    i += 8;
  }
  while (i < n) c = (t0[(c ^ (buf[i++] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
