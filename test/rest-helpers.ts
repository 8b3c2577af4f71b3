// A real HTTP client for the REST suites.
import http from 'node:http';

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export function httpRequest(port: number, method: string, path: string, body?: string | Buffer, headers: Record<string, string | number> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...(body !== undefined ? { 'Content-Length': Buffer.byteLength(body) } : {}), ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function post(port: number, path: string, body: string | Buffer, headers?: Record<string, string | number>): Promise<HttpAnswer> {
  return httpRequest(port, 'POST', path, body, { 'Content-Type': 'application/json', ...headers });
}

export function get(port: number, path: string): Promise<HttpAnswer> {
  return httpRequest(port, 'GET', path);
}
