/**
 * Seeded randomness for templates: small and fast, good enough for test data, not for secrets.
 * Each compiled template draws from its own stream (seed + template name), so adding a
 * template to a run does not change what another one generates.
 */

/** A number in [0, 1). */
export type Random = () => number;

/** mulberry32: a 32-bit state PRNG, a few operations per number. */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a: a 32-bit hash of text, to derive one stream's seed from a seed and a name. */
export function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The stream of one template: the same seed and name give the same numbers. */
export function seededRandom(seed: number, name: string, purpose = "values"): Random {
  return mulberry32(hashString(`${seed}:${name}:${purpose}`));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A version 4 UUID whose 122 random bits come from `random`. */
export function uuidFrom(random: Random): string {
  const b: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = Math.floor(random() * 4294967296);
    b.push(w >>> 24, (w >>> 16) & 0xff, (w >>> 8) & 0xff, w & 0xff);
  }
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40; // version 4
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80; // variant 10xx
  const h = b.map((x) => HEX[x] as string);
  return `${h[0]}${h[1]}${h[2]}${h[3]}-${h[4]}${h[5]}-${h[6]}${h[7]}-${h[8]}${h[9]}-${h[10]}${h[11]}${h[12]}${h[13]}${h[14]}${h[15]}`;
}
