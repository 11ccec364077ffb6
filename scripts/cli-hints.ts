// What the command-line tools say when a server they need does not answer: the address they tried
// and what to do, instead of a bare `fetch failed` or `connect ECONNREFUSED 127.0.0.1:27017`.

/** `mongodb://user:secret@host/db` → `mongodb://user:***@host/db` (a URI may carry a password). */
export function redactUri(uri: string): string {
  return uri.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
}

/** True for a connection that was refused, timed out or could not be resolved (not an HTTP error). */
export function isUnreachable(err: unknown): boolean {
  for (let e = err as { name?: string; code?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.name === 'MongooseServerSelectionError' || e.name === 'MongoServerSelectionError') return true;
    if (e.code && ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET'].includes(e.code)) return true;
  }
  return false;
}

export function mongoUnreachable(uri: string): string {
  return `cannot reach MongoDB at ${redactUri(uri)}: start the stack with \`npm start\` (it runs FerretDB), ` +
    'or set MONGODB_URI to your MongoDB (FERRETDB_PORT if npm start uses another port)';
}

export function apiUnreachable(url: string): string {
  return `cannot reach the API at ${url}: is \`npm start\` running? ` +
    'Otherwise set API_URL (or pass --url) to where the API listens (API_HOST/API_PORT if npm start uses others)';
}
