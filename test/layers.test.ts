// The code's floors: each folder imports code only from the floors below it, so a reader can start
// at rules/ and go up without meeting a forward reference. Types may be imported from anywhere
// (`import type` is erased; workflows name the activities' interfaces that way). No server needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');

/** Lower floors first; folders on one floor do not import each other. */
const FLOORS: string[][] = [
  ['rules', 'esl', 'simulator'],
  ['lib'],
  ['models'],
  ['workflows'],
  ['activities'],
  ['services'],
  ['api'],
];
const floorOf = new Map(FLOORS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports that load code (static, re-exports and dynamic), not `import type`. */
function codeImports(source: string): string[] {
  const out: string[] = [];
  const statement = /^(import|export)\s+(?!type\s)[^;]*?from\s+'(\.[^']+)'/gms;
  for (const m of source.matchAll(statement)) out.push(m[2]);
  for (const m of source.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)) out.push(m[1]);
  return out;
}

test('the import checker sees code imports and skips type imports', () => {
  const src = [
    "import { a } from '../lib/config';",
    "import type { B } from '../api/deps';",
    "export { c } from './c';",
    "import {\n  d,\n  e,\n} from '../models/member';",
    "const x = await import('../services/cdr');",
  ].join('\n');
  assert.deepEqual(codeImports(src), ['../lib/config', './c', '../models/member', '../services/cdr']);
});

test('every folder imports code only from the floors below it', () => {
  const upward: string[] = [];
  for (const [folder, floor] of floorOf) {
    for (const file of tsFiles(path.join(ROOT, folder))) {
      for (const spec of codeImports(fs.readFileSync(file, 'utf8'))) {
        const target = path.relative(ROOT, path.resolve(path.dirname(file), spec)).split(path.sep)[0];
        if (target === folder) continue;
        const targetFloor = floorOf.get(target);
        if (targetFloor === undefined || targetFloor >= floor) upward.push(`${path.relative(ROOT, file)} → ${spec}`);
      }
    }
  }
  assert.deepEqual(upward, [], `imports that run sideways or up a floor:\n${upward.join('\n')}`);
});
