/**
 * A test stand-in for an MPTCP-capable SSH server: an MPTCP listener that
 * relays each connection to a plain TCP server (OpenSSH's sshd on loopback).
 * Run inside a namespace: `node mptcp-relay.js LISTEN_PORT TARGET_HOST TARGET_PORT`.
 * Prints "listening" once it accepts connections, then, a second after each
 * connection arrives, one JSON line with that connection's subflows as the
 * project's introspection API reports them.
 */
import net from 'node:net';
import { listenMptcp, subflows } from '../../src/mptcp/index.js';

async function main(): Promise<void> {
  const [listenPort, targetHost, targetPort] = process.argv.slice(2);
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(targetPort), targetHost as string);
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    setTimeout(() => {
      if (client.destroyed) return;
      const flows = subflows(client).map((f) => ({ local: f.local.address, remote: f.remote.address, ifindex: f.ifindex, bytesReceived: f.bytesReceived }));
      process.stdout.write(`${JSON.stringify({ subflows: flows })}\n`);
    }, 1000).unref();
  });
  const res = await listenMptcp(server, { host: '0.0.0.0', port: Number(listenPort) });
  process.stdout.write(`listening ${res.transport}\n`);
}

void main();
