// The message body every benchmark sends: plain text of an exact byte length. It does not
// start with { or [ (eventlab would send it as JSON) and holds no {{placeholders}}.
const SEED = "eventlab benchmark payload: the quick brown fox jumps over the lazy dog. ";

/**
 * @param {number} size bytes (the text is ASCII)
 * @returns {string}
 */
export function payload(size) {
  let text = "";
  while (text.length < size) text += SEED;
  return text.slice(0, size);
}
