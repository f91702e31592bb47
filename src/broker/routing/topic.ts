/**
 * Topic matching as RabbitMQ does it. Keys and patterns are split on "."; the empty
 * string has no words at all, but "a." has two ("a" and ""). `*` is exactly one word
 * (an empty one counts), `#` is zero or more. Patterns are compiled once, at bind time.
 */

export type TopicMatcher = (routingKey: string) => boolean;

function words(s: string): string[] {
  return s === "" ? [] : s.split(".");
}

export function compileTopic(pattern: string): TopicMatcher {
  const p = words(pattern);
  if (!p.includes("*") && !p.includes("#")) return (key) => key === pattern;
  if (p.every((w) => w === "#")) return () => true;
  return (key) => matchWords(p, words(key));
}

/**
 * Wildcard matching over words: `*` one word, `#` any run. Greedy with backtracking to
 * the last `#`, which is linear for most patterns and O(p·k) at worst.
 */
export function matchWords(p: readonly string[], k: readonly string[]): boolean {
  let pi = 0;
  let ki = 0;
  let hashAt = -1; // position in p of the last `#` seen
  let hashKi = 0; // where in k that `#` began to consume
  while (ki < k.length) {
    const w = p[pi];
    if (w === "#") {
      hashAt = pi;
      hashKi = ki;
      pi += 1;
    } else if (w !== undefined && (w === "*" || w === k[ki])) {
      pi += 1;
      ki += 1;
    } else if (hashAt >= 0) {
      // Let the last `#` swallow one more word and retry from just after it.
      pi = hashAt + 1;
      hashKi += 1;
      ki = hashKi;
    } else return false;
  }
  while (p[pi] === "#") pi += 1;
  return pi === p.length;
}
