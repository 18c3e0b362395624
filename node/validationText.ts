/**
 * Wording helpers shared by every validator that reports to a person (scenario files, node
 * configuration): where in the input a problem is, what was found there, and a "did you mean"
 * suggestion for a misspelt key. Pure string functions.
 */

/** `a.b[2]["odd key"]` for a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(seg))) out += (out === '' ? '' : '.') + String(seg);
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** The raw value at a path, or undefined when the path does not exist. */
export function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let node = raw;
  for (const seg of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, seg)) return undefined;
    node = (node as Record<PropertyKey, unknown>)[seg];
  }
  return node;
}

/** What was found, short enough for one line ("nothing", `"abc"`, `{"a":1}`, `[1,2,…`). */
export function describeValue(value: unknown, maxChars = 80): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (value instanceof Date) return `a date (${value.toISOString()})`;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // YAML aliases can build cyclic values; the type is still worth naming.
    text = Array.isArray(value) ? 'a list' : 'a mapping';
  }
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

export interface SuggestOptions {
  /** How to show the suggestion (default JSON-quoted). */
  show?: (s: string) => string;
  /** Also suggest a known name with a word added or dropped ("bootstrapPeers" for "bootstrap"). */
  matchContained?: boolean;
}

/** ` (did you mean X?)` for the closest candidate, else ''. */
export function suggest(word: string, candidates: readonly string[], options: SuggestOptions = {}): string {
  const show = options.show ?? JSON.stringify;
  // Words in the wrong order (delayMinNs for delayNsMin) are the typo "units last" naming invites
  // most, and are far apart in edit distance, so they are matched first.
  const tokens = camelTokens(word);
  const reordered = candidates.find((candidate) => camelTokens(candidate) === tokens);
  if (reordered !== undefined) return ` (did you mean ${show(reordered)}?)`;
  if (options.matchContained === true) {
    const words = new Set(tokens.split(' '));
    const contained = candidates.find((candidate) => {
      const theirs = camelTokens(candidate).split(' ');
      return theirs.every((w) => words.has(w)) || [...words].every((w) => theirs.includes(w));
    });
    if (contained !== undefined) return ` (did you mean ${show(contained)}?)`;
  }
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best === undefined ? '' : ` (did you mean ${show(best)}?)`;
}

export function camelTokens(word: string): string {
  // camelCase splits at capitals; SHOUTING_CASE (environment variables) only at underscores.
  const camel = /[a-z]/.test(word) ? /(?=[A-Z])|[._-]/ : /[._-]/;
  return word
    .split(camel)
    .map((token) => token.toLowerCase())
    .filter((token) => token !== '')
    .sort()
    .join(' ');
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
