/**
 * Benchmark sink: an MPTCP listener that reads each connection to its end,
 * then answers with the byte count and closes. Run inside a namespace:
 * `node sink.js PORT`; prints "listening" when ready.
 */
import net from 'node:net';
import { listenMptcp } from '../src/mptcp/index.js';

const server = net.createServer({ allowHalfOpen: true }, (sock) => {
  let n = 0;
  sock.on('data', (b: Buffer) => (n += b.length));
  sock.on('end', () => sock.end(`${n}\n`));
  sock.on('error', () => sock.destroy());
});
void listenMptcp(server, { host: '0.0.0.0', port: Number(process.argv[2]) }).then((r) => process.stdout.write(`listening ${r.transport}\n`));
