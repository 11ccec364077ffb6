// deploy/freeswitch/*.conf.xml hold only parameters FreeSWITCH 1.10.12 reads (an unknown name is
// ignored silently there), point at the worker's default ports (lib/config.ts), and size mod_json_cdr's
// retries to outlast a worker restart under `npm start` (scripts/supervise.ts backoff cap).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RESTART_MAX_DELAY_MS } from '../scripts/supervise';

const dir = path.join(__dirname, '..', 'deploy', 'freeswitch');
function params(file: string): Map<string, string> {
  const xml = fs.readFileSync(path.join(dir, file), 'utf8').replace(/<!--[\s\S]*?-->/g, '');
  return new Map([...xml.matchAll(/<param\s+name="([^"]+)"\s+value="([^"]*)"\s*\/>/g)].map((m) => [m[1], m[2]]));
}

// The names mod_json_cdr_load (mod_json_cdr.c, v1.10.12) and mod_event_socket's config() compare against.
const JSON_CDR_NAMES = [
  'cred', 'url', 'log-http-and-disk', 'log-errors-to-disk', 'timeout', 'delay', 'log-b-leg', 'prefix-a-leg',
  'disable-100-continue', 'encode', 'retries', 'rotate', 'log-dir', 'err-log-dir', 'enable-cacert-check', 'ssl-cert-path',
  'ssl-key-path', 'ssl-key-password', 'ssl-version', 'ssl-cacert-file', 'enable-ssl-verifyhost', 'auth-scheme',
  'encode-values', 'queue-capacity',
];
const EVENT_SOCKET_NAMES = ['listen-ip', 'debug', 'nat-map', 'listen-port', 'password', 'apply-inbound-acl', 'stop-on-bind-error'];

test('json_cdr.conf.xml: known parameters, the worker endpoint, a timeout, retries outlasting a restart', () => {
  const p = params('json_cdr.conf.xml');
  for (const name of p.keys()) assert.ok(JSON_CDR_NAMES.includes(name), `mod_json_cdr has no parameter ${name}`);
  assert.equal(p.get('url'), 'http://127.0.0.1:10023/cdr', 'CDR_HOST and CDR_PORT defaults (lib/config.ts)');
  assert.ok(Number(p.get('timeout')) > 3, 'longer than the endpoint takes to answer (3 s)');
  assert.ok(p.get('err-log-dir')?.startsWith('/'), 'an absolute error directory');
  assert.ok(p.get('cred')?.includes(':'), 'cred is user:password');
  // retries=N means N+1 tries, `delay` s apart: the span must cover a crash, the capped backoff and a start-up.
  const spanMs = Number(p.get('retries')) * Number(p.get('delay')) * 1000;
  assert.ok(spanMs >= RESTART_MAX_DELAY_MS + 60_000, `retries span ${spanMs} ms`);
});

test('event_socket.conf.xml: known parameters, the worker defaults, an ACL, not the default password', () => {
  const p = params('event_socket.conf.xml');
  for (const name of p.keys()) assert.ok(EVENT_SOCKET_NAMES.includes(name), `mod_event_socket has no parameter ${name}`);
  assert.equal(p.get('listen-port'), '8021', 'ESL_PORT default (lib/config.ts)');
  assert.ok(p.get('apply-inbound-acl'));
  assert.notEqual(p.get('password'), 'ClueCon');
});
