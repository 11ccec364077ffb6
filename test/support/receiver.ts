// An HTTP server on 127.0.0.1 standing in for a tenant's endpoint (webhooks, template requests):
// each request's body is read whole, then `answer` says the status to reply with.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Receiver {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  close(): void;
}

export async function startReceiver(answer: (req: http.IncomingMessage, body: string) => number): Promise<Receiver> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => res.writeHead(answer(req, body)).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return { port, url: `http://127.0.0.1:${port}`, close: () => server.close() };
}
