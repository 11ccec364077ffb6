// The Grafana dashboard (deploy/grafana) queries only metrics the code defines: the registry of
// lib/metrics.ts (the dialer's and prom-client's process metrics) and the Temporal SDK metrics it
// lists (test/metrics.test.ts checks those appear in a real worker scrape). And every dialer metric
// is on the dashboard. No server needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TEMPORAL_METRICS, registry } from '../lib/metrics';

const DASHBOARD = path.join(__dirname, '..', 'deploy', 'grafana', 'durable-dialer.json');
const OURS = /^(dialer|temporal|process|nodejs)_/;

interface Panel { title?: string; targets?: { expr?: string }[]; panels?: Panel[] }

function exprs(panels: Panel[]): { title: string; expr: string }[] {
  return panels.flatMap((p) => [
    ...(p.targets ?? []).map((t) => ({ title: p.title ?? '', expr: t.expr ?? '' })),
    ...exprs(p.panels ?? []),
  ]);
}

/** Metric names an expression selects: identifiers of our prefixes outside label matchers `{…}`. */
export function metricNames(expr: string): string[] {
  const outsideMatchers = expr.replace(/\{[^}]*\}/g, '{}').replace(/"[^"]*"/g, '""');
  return [...outsideMatchers.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((n) => OURS.test(n));
}

/** A histogram's series names are its name plus _bucket, _sum, _count. */
const family = (series: string) => series.replace(/_(bucket|sum|count)$/, '');

test('the name extraction sees metrics and skips functions, labels and matcher values', () => {
  assert.deepEqual(
    metricNames('histogram_quantile(0.95, sum by (le, route) (rate(dialer_http_request_duration_seconds_bucket{route="process_x"}[5m])))'),
    ['dialer_http_request_duration_seconds_bucket'],
  );
});

test('every dashboard expression names metrics the code defines, and every dialer metric is shown', async () => {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: { query?: unknown }[] } };
  const defined = new Set<string>([...(await registry.getMetricsAsJSON()).map((m) => m.name), ...TEMPORAL_METRICS]);
  const all = [
    ...exprs(dash.panels),
    ...dash.templating.list.map((v) => ({ title: 'variable', expr: typeof v.query === 'object' ? String((v.query as { query?: string }).query ?? '') : '' })),
  ].filter((e) => e.expr);
  assert.ok(all.length >= 10, 'the dashboard has queries');
  const used = new Set<string>();
  for (const { title, expr } of all) {
    const names = metricNames(expr);
    assert.ok(names.length > 0 || title === 'variable', `"${title}": ${expr} names no metric`);
    for (const n of names) {
      assert.ok(defined.has(family(n)) || defined.has(n), `"${title}": ${n} is not a metric the code defines (lib/metrics.ts)`);
      used.add(family(n));
    }
  }
  const dialerMetrics = [...defined].filter((n) => n.startsWith('dialer_'));
  assert.deepEqual(dialerMetrics.filter((n) => !used.has(n)), [], 'dialer metrics missing from the dashboard');
});
