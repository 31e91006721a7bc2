/**
 * A two-path lab for path manager tests: namespaces `a` (client) and `b`
 * (server) joined by two veth pairs, and MPTCP peers made with python3
 * (socket(AF_INET*, SOCK_STREAM, IPPROTO_MPTCP)) run inside them.
 *
 *   a eth0 10.0.1.1/24 fd00:1::1/64  <->  b eth0 10.0.1.2/24 fd00:1::2/64
 *   a eth1 10.0.2.1/24               <->  b eth1 10.0.2.2/24
 */
import type { ChildProcess } from 'node:child_process';
import { Netns, vethPair, waitFor } from './netns.js';

export interface TwoPathLab {
  a: Netns;
  b: Netns;
  close(): void;
}

/** Creates the lab; close() removes both namespaces. */
export function twoPathLab(tag: string): TwoPathLab {
  const a = Netns.create(`${tag}a`);
  const b = Netns.create(`${tag}b`);
  try {
    vethPair(a, 'eth0', b, 'eth0');
    vethPair(a, 'eth1', b, 'eth1');
    for (const [ns, host] of [[a, 1], [b, 2]] as const) {
      ns.ipSync('addr', 'add', `10.0.1.${host}/24`, 'dev', 'eth0');
      ns.ipSync('addr', 'add', `fd00:1::${host}/64`, 'dev', 'eth0', 'nodad');
      ns.ipSync('addr', 'add', `10.0.2.${host}/24`, 'dev', 'eth1');
    }
  } catch (err) {
    a.close();
    b.close();
    throw err;
  }
  return { a, b, close: () => (a.close(), b.close()) };
}

// An echo server for one connection, then it exits.
const PY_SERVER = `
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port)); s.listen(4)
print('listening', flush=True)
c, _ = s.accept()
while True:
    d = c.recv(65536)
    if not d: break
    c.sendall(d)
c.close(); s.close()
`;

// Connects, then per stdin line: "ping" echoes one message, "close" ends.
const PY_CLIENT = `
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
c = socket.socket(fam, socket.SOCK_STREAM, 262)
c.settimeout(10)
c.connect((host, port))
print('connected %s %d' % c.getsockname()[:2], flush=True)
for line in sys.stdin:
    if line.strip() == 'ping':
        c.sendall(b'ping'); c.recv(16)
        print('pong', flush=True)
    else:
        break
c.close()
print('closed', flush=True)
`;

/** A python3 process with line-based stdout. */
export class PyPeer {
  private out = '';
  private exited = false;

  private constructor(readonly proc: ChildProcess) {
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    proc.on('exit', () => (this.exited = true));
    // A write after the peer exited fails with EPIPE; the exit is what matters.
    proc.stdin?.on('error', () => undefined);
  }

  /** Runs a python3 script with arguments in `ns`. */
  static spawn(ns: Netns, script: string, args: string[] = []): PyPeer {
    return new PyPeer(ns.spawn('python3', ['-c', script, ...args]));
  }

  /** Starts an MPTCP echo server in `ns` and waits until it listens. */
  static async server(ns: Netns, host: string, port: number): Promise<PyPeer> {
    const p = new PyPeer(ns.spawn('python3', ['-c', PY_SERVER, host, String(port)]));
    await p.waitLine('listening');
    return p;
  }

  /** Connects an MPTCP client from `ns` and waits until connected; `localPort` is its ephemeral port. */
  static async client(ns: Netns, host: string, port: number): Promise<{ peer: PyPeer; localPort: number }> {
    const p = new PyPeer(ns.spawn('python3', ['-c', PY_CLIENT, host, String(port)]));
    const line = await p.waitLine('connected');
    return { peer: p, localPort: Number(line.split(' ')[2]) };
  }

  /** Waits for an output line starting with `prefix` and returns it. */
  async waitLine(prefix: string, timeoutMs = 5000): Promise<string> {
    return waitFor(`python3 peer to print ${prefix} (output so far: ${JSON.stringify(this.out)})`, () => {
      const line = this.out.split('\n').find((l) => l.startsWith(prefix));
      if (!line && this.exited) throw new Error(`python3 peer exited: ${this.out}`);
      return line;
    }, timeoutMs);
  }

  /** Writes one command line to stdin. */
  send(line: string): void {
    this.proc.stdin?.write(`${line}\n`);
  }

  /** Asks a client to close and waits for the process to end; kills it otherwise. */
  async close(): Promise<void> {
    if (!this.exited) this.send('close');
    try {
      await waitFor('python3 peer to exit', () => this.exited, 3000);
    } catch {
      this.proc.kill('SIGKILL');
    }
  }
}
