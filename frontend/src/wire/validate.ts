/**
 * Small validators for JSON from the network: each takes `unknown` and returns
 * the typed value, or an error saying where the answer went wrong
 * (`t[3]: expected a finite number, got "x"`). Written by hand so the front end
 * has no schema dependency; the shapes themselves live in `answers.ts`.
 */

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** Checks `value`; `path` names it in the error (`""` for the whole answer). */
export type Validator<T> = (value: unknown, path: string) => Checked<T>;

export type Json = Record<string, unknown>;

export function valid<T>(value: T): Checked<T> {
  return { ok: true, value };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return String(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  return 'an object';
}

export function invalid(path: string, expected: string, value: unknown): { ok: false; error: string } {
  return { ok: false, error: `${path === '' ? 'answer' : path}: expected ${expected}, got ${describe(value)}` };
}

export function isJsonObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const finiteNumber: Validator<number> = (value, path) =>
  typeof value === 'number' && Number.isFinite(value) ? valid(value) : invalid(path, 'a finite number', value);

export const string: Validator<string> = (value, path) =>
  typeof value === 'string' ? valid(value) : invalid(path, 'a string', value);

export const boolean: Validator<boolean> = (value, path) =>
  typeof value === 'boolean' ? valid(value) : invalid(path, 'true or false', value);

/** One of the given strings. */
export function oneOf<T extends string>(...choices: readonly T[]): Validator<T> {
  return (value, path) => {
    const choice = choices.find((candidate) => candidate === value);
    return choice === undefined
      ? invalid(path, choices.map((candidate) => JSON.stringify(candidate)).join(' or '), value)
      : valid(choice);
  };
}

/** The first validator that accepts the value. */
export function either<A, B>(first: Validator<A>, second: Validator<B>, expected: string): Validator<A | B> {
  return (value, path) => {
    const a = first(value, path);
    if (a.ok) return a;
    const b = second(value, path);
    return b.ok ? b : invalid(path, expected, value);
  };
}

/** Absent (missing or null) is `undefined`; anything else must pass `item`. */
export function optional<T>(item: Validator<T>): Validator<T | undefined> {
  return (value, path) => (value === undefined || value === null ? valid(undefined) : item(value, path));
}

export function arrayOf<T>(item: Validator<T>): Validator<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) return invalid(path, 'an array', value);
    const items: T[] = [];
    for (const [index, element] of value.entries()) {
      const checked = item(element, `${path}[${index}]`);
      if (!checked.ok) return checked;
      items.push(checked.value);
    }
    return valid(items);
  };
}

/** The validated type of an object shape: optional fields may be left out. */
export type ShapeOf<Fields extends Record<string, Validator<unknown>>> = {
  [K in keyof Fields as undefined extends CheckedType<Fields[K]> ? never : K]: CheckedType<Fields[K]>;
} & {
  [K in keyof Fields as undefined extends CheckedType<Fields[K]> ? K : never]?: Exclude<
    CheckedType<Fields[K]>,
    undefined
  >;
};

type CheckedType<V> = V extends Validator<infer T> ? T : never;

/**
 * An object with these fields; other fields are dropped. An absent optional field
 * is left out rather than set to `undefined`, so `{...defaults, ...checked}` keeps
 * the defaults.
 */
export function object<Fields extends Record<string, Validator<unknown>>>(fields: Fields): Validator<ShapeOf<Fields>> {
  return (value, path) => {
    if (!isJsonObject(value)) return invalid(path, 'an object', value);
    const result: Json = {};
    for (const [key, field] of Object.entries(fields)) {
      const checked = field(value[key], path === '' ? key : `${path}.${key}`);
      if (!checked.ok) return checked;
      if (checked.value !== undefined) result[key] = checked.value;
    }
    return valid(result as ShapeOf<Fields>);
  };
}

/** Absent (missing or null) is `fallback`; anything else must pass `item`. */
export function withDefault<T>(item: Validator<T>, fallback: T): Validator<T> {
  return (value, path) => (value === undefined || value === null ? valid(fallback) : item(value, path));
}
