/**
 * An HTTP proxy in front of a server (a private Pushgateway) that can hold the requests a
 * test picks until it releases them, as a slow network or a client past its timeout does:
 * the request has left its sender, and reaches the server later, after whatever the test
 * did meanwhile.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HoldingProxy {
  url: string;
  /** Requests for which `match` is true are held from now on. */
  hold(match: (method: string, path: string) => boolean): void;
  /** How many requests are held now. */
  readonly held: number;
  /** Every request it received: method and path. */
  readonly requests: ReadonlyArray<{ method: string; path: string }>;
  /** Sends the held requests on, in the order they came, and holds no more. */
  release(): void;
  stop(): Promise<void>;
}

export async function startHoldingProxy(target: string): Promise<HoldingProxy> {
  const upstream = new URL(target);
  let match: ((method: string, path: string) => boolean) | undefined;
  const held: Array<() => void> = [];
  const requests: Array<{ method: string; path: string }> = [];
  const server = http.createServer((request, response) => {
    requests.push({ method: request.method ?? '', path: request.url ?? '' });
    const forward = (): void => {
      const outgoing = http.request(
        { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      outgoing.on('error', (error) => response.destroy(error));
      request.pipe(outgoing);
    };
    if (match?.(request.method ?? '', request.url ?? '')) held.push(forward);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hold(m) {
      match = m;
    },
    get held() {
      return held.length;
    },
    requests,
    release() {
      match = undefined;
      for (const forward of held.splice(0)) forward();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
