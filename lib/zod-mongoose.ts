// A stored document's shape is written once, in zod (bounds, enums, required fields, defaults); the
// Mongoose schema and the API's input schemas are derived from it here. Mongoose gets the types,
// `required`, `min`/`max`, `minlength`/`maxlength`, `enum` and the defaults; refinements (regular
// expressions, dial strings, variable names, content checks) stay in zod, which every API write
// passes first. Anything Mongoose cannot type (records, unions, loose objects) is stored as Mixed.
import { Schema, type SchemaDefinition, type SchemaOptions } from 'mongoose';
import { z } from 'zod';

type Def = { type: string; [k: string]: unknown };
const defOf = (t: z.ZodType): Def => t._zod.def as unknown as Def;
type PathDef = Record<string, unknown>;

/** The path options Mongoose needs for one zod type. */
function pathOf(t: z.ZodType): PathDef {
  let required = true;
  let defaultValue: (() => unknown) | undefined;
  let s = t;
  for (;;) {
    const d = defOf(s);
    if (d.type === 'optional' || d.type === 'nullable') required = false;
    else if (d.type === 'default' || d.type === 'prefault') {
      required = false;
      const inner = s;
      // zod hands out a fresh copy (or calls the function) on each read; a prefault is the input
      // Mongoose fills in with the subdocument's own defaults, as zod does.
      defaultValue ??= () => (defOf(inner) as unknown as { defaultValue: unknown }).defaultValue;
    } else break;
    s = d.innerType as z.ZodType;
  }
  const path: PathDef = { ...typeOf(s) };
  if (required) path.required = true;
  if (defaultValue) path.default = defaultValue;
  // An array Mongoose would create empty: absent stays absent unless zod gives a default.
  else if (Array.isArray(path.type)) path.default = undefined;
  return path;
}

function typeOf(s: z.ZodType): PathDef {
  const d = defOf(s);
  switch (d.type) {
    case 'string': {
      const str = s as z.ZodString;
      return { type: String, ...bound('minlength', str.minLength), ...bound('maxlength', str.maxLength) };
    }
    case 'number': {
      const n = s as z.ZodNumber;
      return { type: Number, ...bound('min', n.minValue), ...bound('max', n.maxValue) };
    }
    case 'boolean':
      return { type: Boolean };
    case 'enum':
      return { type: String, enum: (s as z.ZodEnum).options };
    case 'array': {
      const el = pathOf(d.element as z.ZodType);
      delete el.default;
      delete el.required;
      return { type: [el.type instanceof Schema ? el.type : el] };
    }
    case 'object': {
      // A loose object (extra keys kept) cannot be a strict Mongoose subdocument.
      const catchall = d.catchall as z.ZodType | undefined;
      if (catchall && defOf(catchall).type !== 'never') return { type: Schema.Types.Mixed };
      return { type: new Schema(definitionOf(s as z.ZodObject), { _id: false }) };
    }
    default:
      return { type: Schema.Types.Mixed };
  }
}

const bound = (name: string, v: number | null | undefined) => (v !== null && v !== undefined && Number.isFinite(v) && Math.abs(v) < Number.MAX_SAFE_INTEGER ? { [name]: v } : {});

/** The Mongoose schema definition of a zod object's fields; `extra` adds Mongoose-only options
 *  (an index) or replaces a path outright. */
export function definitionOf(obj: z.ZodObject, extra: Record<string, PathDef> = {}): SchemaDefinition {
  const out: Record<string, unknown> = {};
  for (const [key, t] of Object.entries(obj.shape)) out[key] = { ...pathOf(t as z.ZodType), ...extra[key] };
  for (const [key, p] of Object.entries(extra)) if (!(key in out)) out[key] = p;
  return out as SchemaDefinition;
}

export function mongooseSchema(obj: z.ZodObject, options: SchemaOptions, extra: Record<string, PathDef> = {}): Schema {
  return new Schema(definitionOf(obj, extra), options);
}

function hasDefault(t: z.ZodType): boolean {
  const d = defOf(t);
  if (d.type === 'default' || d.type === 'prefault') return true;
  if (d.type === 'optional' || d.type === 'nullable') return hasDefault(d.innerType as z.ZodType);
  if (d.type === 'array') return hasDefault(d.element as z.ZodType);
  if (d.type === 'object') return Object.values((t as z.ZodObject).shape).some((f) => hasDefault(f as z.ZodType));
  return false;
}

/** The same schema with every default made a plain optional: what a client sends is parsed as sent
 *  (a partial update must not reset the fields it leaves out; Mongoose fills the defaults on create).
 *  Checks and refinements are kept; subtrees without defaults are returned as they are. */
export function withoutDefaults<T extends z.ZodType>(t: T): T {
  if (!hasDefault(t)) return t;
  const d = defOf(t);
  const clone = (def: Def) => (t as unknown as { clone(def: Def): T }).clone(def);
  switch (d.type) {
    case 'default':
    case 'prefault':
      return withoutDefaults(d.innerType as z.ZodType).optional() as unknown as T;
    case 'optional':
      return withoutDefaults(d.innerType as z.ZodType).optional() as unknown as T;
    case 'nullable':
      return withoutDefaults(d.innerType as z.ZodType).nullable() as unknown as T;
    case 'array':
      return clone({ ...d, element: withoutDefaults(d.element as z.ZodType) });
    case 'object': {
      const shape = Object.fromEntries(Object.entries((t as unknown as z.ZodObject).shape).map(([k, f]) => [k, withoutDefaults(f as z.ZodType)]));
      return clone({ ...d, shape });
    }
    default:
      return t;
  }
}

/** A field's zod default (undefined without one). */
export function defaultOf(t: z.ZodType): unknown {
  const d = defOf(t);
  if (d.type === 'default' || d.type === 'prefault') return (d as unknown as { defaultValue: unknown }).defaultValue;
  if (d.type === 'optional' || d.type === 'nullable') return defaultOf(d.innerType as z.ZodType);
  return undefined;
}
