// The OpenAPI document matches the routes exactly (no route missing from it, none documented that
// does not exist), is OpenAPI 3.1 with the credential schemes, and is served with the docs page
// without credentials.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, type ApiHarness } from './api-support';

let h: ApiHarness;
before(async () => {
  h = await startApi('api_openapi_test');
});
after(async () => {
  await h?.close();
});

test('every route is in the document and every documented operation is a route', async () => {
  const r = await h.req('GET', '/api/v2/openapi.json');
  assert.equal(r.status, 200);
  const doc = r.body;
  assert.equal(doc.openapi, '3.1.0');
  const documented = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${path}`);
  }
  const routes = new Set(h.app.routes.map(([m, p]) => `${m} ${p.replace(/:([A-Za-z_]+)/g, '{$1}')}`));
  const missing = [...routes].filter((x) => !documented.has(x));
  const extra = [...documented].filter((x) => !routes.has(x));
  assert.deepEqual(missing, [], 'routes missing from the OpenAPI document');
  assert.deepEqual(extra, [], 'documented operations without a route');
  assert.ok(routes.size >= 25);
});

test('operations declare path parameters, responses and security; public ones have none', async () => {
  const doc = (await h.req('GET', '/api/v2/openapi.json')).body;
  assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['XAccessToken', 'XKey']);
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries(item)) {
      const declared = op.parameters.filter((p: any) => p.in === 'path').map((p: any) => p.name);
      assert.deepEqual(declared.sort(), [...names].sort(), `${method} ${path} path parameters`);
      assert.ok(op.responses['200'], `${method} ${path} has a 200 response`);
      assert.ok(op.operationId, `${method} ${path} operationId`);
    }
  }
  assert.deepEqual(doc.paths['/health'].get.security, []);
  assert.equal(doc.paths['/api/v2/dialer'].post.requestBody.content['application/json'].schema.$ref, '#/components/schemas/DialerCreate');
  assert.deepEqual(doc.components.schemas.DialerCreate.required.sort(), ['name', 'type']);
});

test('the docs page is served without credentials', async () => {
  const r = await fetch(`${h.base}/api/v2/docs`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await r.text(), /openapi\.json/);
});
