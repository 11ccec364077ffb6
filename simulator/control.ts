// HTTP JSON control interface: inspect calls, change rules, inject faults. Plain node:http so the
// simulator has no dependency beyond Node.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FaultRequest, Simulator } from './index';
import type { RulesConfig } from './rules';

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

const ACTIVE = new Set(['dialing', 'ringing', 'early', 'answered']);

export class ControlServer {
  private readonly server: http.Server;

  constructor(private readonly sim: Simulator) {
    this.server = http.createServer((req, res) => {
      this.route(req).then(
        (body) => this.send(res, 200, body),
        (err: unknown) => {
          const status = err instanceof HttpError ? err.status : 400;
          this.send(res, status, { error: err instanceof Error ? err.message : String(err) });
        },
      );
    });
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async route(req: http.IncomingMessage): Promise<unknown> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const sim = this.sim;
    if (method === 'GET' && path === '/health') return { ok: true, coreUuid: sim.coreUuid };
    if (method === 'GET' && path === '/calls') {
      const state = url.searchParams.get('state');
      const dest = url.searchParams.get('destination');
      return sim.calls().filter((c) =>
        (!state || (state === 'active' ? ACTIVE.has(c.state) : c.state === state)) &&
        (!dest || c.destination === dest));
    }
    if (method === 'GET' && path.startsWith('/calls/')) {
      const rec = sim.call(decodeURIComponent(path.slice(7)));
      if (!rec) throw new HttpError(404, 'no such call');
      return rec;
    }
    if (method === 'GET' && path === '/stats') return sim.stats();
    if (method === 'GET' && path === '/rules') return sim.getRules();
    if (method === 'PUT' && path === '/rules') {
      sim.setRules((await readJson(req)) as RulesConfig);
      return sim.getRules();
    }
    if (method === 'POST' && path === '/reset') {
      const body = (await readJson(req)) as { hangup?: boolean };
      sim.reset({ hangup: body.hangup });
      return { ok: true };
    }
    if (method === 'POST' && path === '/faults') return sim.faults((await readJson(req)) as FaultRequest);
    if (method === 'POST' && path === '/restart') {
      const body = (await readJson(req)) as { graceful?: boolean };
      await sim.restart({ graceful: body.graceful === true });
      return { ok: true, coreUuid: sim.coreUuid };
    }
    if (method === 'POST' && path === '/heartbeat') {
      sim.heartbeat();
      return { ok: true };
    }
    throw new HttpError(404, `no route ${method} ${path}`);
  }
}
