// lib/zod-mongoose.ts: the Mongoose schema derived from a zod object carries its types, required
// fields, bounds, enums and defaults; the input schema without defaults keeps every check but fills
// nothing in; and the campaign's stored defaults are the ones the rules use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose, { Schema } from 'mongoose';
import { z } from 'zod';
import { defaultOf, mongooseSchema, withoutDefaults } from '../lib/zod-mongoose';
import { Campaign } from '../models';
import { campaignClientFields, parametersSchema } from '../models/campaign-schema';

const shape = z.object({
  name: z.string().min(1).max(20),
  kind: z.enum(['a', 'b']).default('a'),
  limit: z.number().int().min(0).max(99).default(30),
  note: z.string().optional(),
  tags: z.array(z.string()).optional(),
  list: z.array(z.object({ at: z.number().min(1), on: z.boolean().default(true) }).refine((v) => v.at < 50, 'too late')).max(3).default([]),
  inner: z.strictObject({ n: z.number().default(7) }).prefault({}),
  blob: z.record(z.string(), z.unknown()).default({}),
  loose: z.looseObject({ uri: z.string() }).optional(),
});

test('derived Mongoose schema: types, required, bounds, enums, defaults; absent arrays stay absent', () => {
  const s = mongooseSchema(shape, { versionKey: false, minimize: false });
  const path = (p: string) => s.path(p) as unknown as { instance: string; options: Record<string, unknown>; schema?: Schema };
  assert.equal(path('name').instance, 'String');
  assert.equal(path('name').options.required, true);
  assert.equal(path('name').options.maxlength, 20);
  assert.deepEqual(path('kind').options.enum, ['a', 'b']);
  assert.equal(path('limit').options.min, 0);
  assert.equal(path('limit').options.max, 99);
  assert.equal(path('note').options.required, undefined);
  assert.equal(path('blob').instance, 'Mixed');
  assert.equal(path('loose').instance, 'Mixed', 'extra keys would be dropped by a strict subdocument');
  assert.equal(path('list').schema?.path('at').instance, 'Number');

  const M = mongoose.model('ZodMongooseProbe', s);
  const doc = new M({ name: 'x', list: [{ at: 2 }] }).toObject();
  assert.equal(doc.kind, 'a');
  assert.equal(doc.limit, 30);
  assert.deepEqual(doc.inner, { n: 7 }, 'a prefault object gets its fields\' defaults');
  assert.deepEqual(doc.list, [{ at: 2, on: true }]);
  assert.deepEqual(doc.blob, {});
  assert.equal('tags' in doc, false);
  const bad = new M({ limit: 100, kind: 'c', list: [{ at: 0 }] }).validateSync();
  assert.deepEqual(Object.keys(bad?.errors ?? {}).sort(), ['kind', 'limit', 'list.0.at', 'name']);
});

test('withoutDefaults: the same checks, nothing filled in (a partial update must not reset fields)', () => {
  const input = withoutDefaults(shape);
  assert.deepEqual(input.parse({ name: 'x' }), { name: 'x' });
  assert.deepEqual(input.partial().parse({ inner: {} }), { inner: {} });
  assert.equal(input.safeParse({ name: 'x', limit: 100 }).success, false);
  assert.equal(input.safeParse({ name: 'x', list: [{ at: 60 }] }).error?.issues[0].message, 'too late', 'refinements kept');
  assert.equal(input.safeParse({ name: 'x', list: [{ at: 1 }, { at: 1 }, { at: 1 }, { at: 1 }] }).success, false, 'array bounds kept');
  assert.equal(input.safeParse({ name: 'x', inner: { m: 1 } }).error?.issues[0].code, 'unrecognized_keys', 'strictness kept');
  assert.equal(defaultOf(shape.shape.limit), 30);
  assert.equal(defaultOf(shape.shape.note), undefined);
});

test('the campaign: Mongoose stores the zod defaults, the same the rules fall back to', () => {
  const stored = new Campaign({ name: 'c', type: 'Voice Broadcasting', domain: 'd' }).toObject();
  const p = parametersSchema.parse({});
  assert.deepEqual(stored.parameters, p);
  assert.equal(p.limit, 30);
  assert.equal(stored.membersStrategy, defaultOf(campaignClientFields.membersStrategy));
  assert.equal(stored.numberStrategy, 'by-priority');
  assert.deepEqual(stored.communications, { types: [] });
  assert.deepEqual(stored.resources, []);
  assert.equal(stored.content, null);
  assert.equal('causesOK' in stored, false, 'absent cause lists mean the v3 defaults (rules)');
  assert.equal('agents' in stored, false);
  const bounds = (Campaign.schema.path('parameters') as unknown as { schema: Schema }).schema.path('maxTryCount') as unknown as { options: { min: number; max: number } };
  assert.deepEqual([bounds.options.min, bounds.options.max], [1, 999]);
});
