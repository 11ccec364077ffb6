import mongoose, { type Model, type Schema } from 'mongoose';

/** Registers a model once per process (tests and tsx watch may import a module twice). Documents are
 *  read with `.lean<XDoc>()` for types; typing the Model itself with InferSchemaType makes tsc explode. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function model(name: string, schema: Schema): Model<any> {
  return mongoose.models[name] ?? mongoose.model(name, schema);
}

/** Channel-variable maps are stored as given (numbers, booleans); the rules work on strings. */
export function plainVariables(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, val] of Object.entries(v)) if (val !== null && val !== undefined) out[k] = String(val);
  return out;
}
