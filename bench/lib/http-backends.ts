/**
 * HTTP backends for bench/scanner, run as a child process (`node http-backends.js <port> <n>`) so
 * their CPU is not the scanner's: one node:http server on each of n loopback addresses
 * (`backendIP(i)`, i = 1..n) at `port`, answering `ok` with 200, or 503 while the parent has put
 * the address in the failing set (IPC messages `{down: [ips]}` / `{up: [ips]}`, acknowledged with
 * `{ack: id}`). Prints `ready` once every server listens.
 */
import http from 'node:http';

/** 127.64.0.1, 127.64.0.2, …: away from 127.0.0.x, which tests and other programs use. */
export function backendIP(i: number): string {
  return `127.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

type Msg = { id: number; down?: string[]; up?: string[] };

async function main(port: number, n: number): Promise<void> {
  const failing = new Set<string>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const bad = failing.has(req.socket.localAddress ?? '');
    res.writeHead(bad ? 503 : 200, { 'content-type': 'text/plain', 'content-length': bad ? 4 : 2 });
    res.end(bad ? 'down' : 'ok');
  };
  const listening: Promise<void>[] = [];
  for (let i = 1; i <= n; i++) {
    const s = http.createServer(handler);
    listening.push(
      new Promise((resolve, reject) => s.once('error', reject).listen(port, backendIP(i), resolve)),
    );
  }
  await Promise.all(listening);
  process.on('message', (m: Msg) => {
    for (const ip of m.down ?? []) failing.add(ip);
    for (const ip of m.up ?? []) failing.delete(ip);
    process.send?.({ ack: m.id });
  });
  process.stdout.write('ready\n');
}

if (process.argv[1]?.endsWith('http-backends.js')) {
  main(Number(process.argv[2]), Number(process.argv[3])).catch((err) => {
    process.stderr.write(`http-backends: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
