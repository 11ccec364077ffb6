// One request to the REST API as an integrator sends it (X-Key / X-Access-Token, JSON body), the
// answer parsed as JSON when it is JSON. Shared by the API tests, the benchmarks and the fault suite.

export interface ApiCredential {
  key: string;
  secret: string;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

export async function apiRequest<T = unknown>(
  base: string,
  method: string,
  path: string,
  o: { cred?: ApiCredential; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.cred) {
    headers['X-Key'] = o.cred.key;
    headers['X-Access-Token'] = o.cred.secret;
  }
  let body: string | undefined;
  if (o.body !== undefined) {
    body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const r = await fetch(base + path, {
    method, headers, body, signal: o.timeoutMs ? AbortSignal.timeout(o.timeoutMs) : undefined,
  });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, body: parsed as T, headers: r.headers };
}
