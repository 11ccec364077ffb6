// The queries a client shapes (member lists, counts, pipelines, dialer and history lists) can scan a
// whole collection on FerretDB v1 for seconds. They run on a connection pool of their own, so they
// never queue the API's other queries (by-id lookups, writes: one connection, config.mongodbPoolSize)
// behind them, and each domain has at most `perDomain` of them in flight (429 beyond), so one
// tenant cannot take the whole pool. Reads only: nothing here writes.
import type { Context } from 'koa';
import mongoose, { type Model } from 'mongoose';
import { domainOf } from './auth';
import { badRequest, HttpError } from './http';
import { monitorMongo } from '../lib/metrics';
export { batchesById, findPage, MAX_EMBEDDED_SKIP, pageStore, type PageQuery, type PageStore } from '../models/pages';

export interface ReadLimits {
  /** Connection string of the reads' own pool; none → the default connection (no separate pool). */
  uri?: string;
  poolSize: number;
  /** Client-shaped queries in flight per domain (0 = unlimited). */
  perDomain: number;
}

export class ClientReads {
  private conn: mongoose.Connection | null = null;
  private readonly models = new Map<string, Model<any>>();
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly limits: ReadLimits) {}

  /** `model` bound to the reads' pool. */
  model<T>(model: Model<T>): Model<T> {
    if (!this.limits.uri) return model;
    if (!this.conn) {
      this.conn = mongoose.createConnection(this.limits.uri, { maxPoolSize: Math.max(1, this.limits.poolSize), serverSelectionTimeoutMS: 15_000, monitorCommands: true });
      monitorMongo(this.conn.getClient(), 'reads');
    }
    let m = this.models.get(model.modelName);
    if (!m) {
      m = this.conn.model(model.modelName, model.schema, model.collection.collectionName);
      this.models.set(model.modelName, m);
    }
    return m as Model<T>;
  }

  /** Runs one client-shaped query of the request's domain; 429 when the domain already has its share running. */
  async run<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
    const release = this.enter(ctx);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Counts a client-shaped read of the request's domain that outlives the handler (a streamed
   *  export) until the returned release() is called; 429 when the domain has its share running. */
  enter(ctx: Context): () => void {
    const domain = domainOf(ctx) ?? '*';
    const n = this.inFlight.get(domain) ?? 0;
    if (this.limits.perDomain > 0 && n >= this.limits.perDomain) {
      ctx.set('Retry-After', '1');
      throw new HttpError(429, `at most ${this.limits.perDomain} list, count or aggregate queries of one domain run at a time; retry when one has answered`);
    }
    this.inFlight.set(domain, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(domain) ?? 1) - 1;
      if (left) this.inFlight.set(domain, left);
      else this.inFlight.delete(domain);
    };
  }

  async close(): Promise<void> {
    await this.conn?.close();
    this.conn = null;
    this.models.clear();
  }
}

/** The `after` query parameter: an ObjectId, not together with `sort` or `page`; 400 naming it. */
export function afterParam(raw: string | undefined, q: { sort?: unknown; skip: number }): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!mongoose.isObjectIdOrHexString(raw) || raw.length !== 24) throw badRequest('after: must be the 24-character hex _id of the last member of the previous page');
  if (q.sort) throw badRequest('after: pages in _id order; leave out sort');
  if (q.skip) throw badRequest('after: leave out page (after already says where the page starts)');
  return raw.toLowerCase();
}
