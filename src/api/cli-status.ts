/**
 * `mpssh status`: asks a running mpsshd for its status API's view and
 * prints it as tables (or as JSON with --json). As root it uses the control
 * socket when it can; otherwise the loopback listener.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { z } from 'zod';
import { zodMessage } from './errors.js';
import * as S from './schemas.js';
import type { ConnectionsView, EndpointsView, InterfacesView, SessionsView, StatusView } from './schemas.js';
import { formatBytes, formatDuration, renderTable } from './table.js';
import { hostPort } from '../util/address.js';
import { MpsshError } from '../util/errors.js';

const DEFAULT_SOCKET = '/run/mpssh/api.sock';
const DEFAULT_URL = 'http://localhost/';

export const STATUS_USAGE = `usage: mpssh status [--watch [SECONDS]] [--all] [--json] [--socket PATH | --url URL]

Shows what mpsshd is doing: your outgoing MPTCP connections (ssh sessions
above all) with the interfaces they ride and their rates, interfaces,
MPTCP endpoints and limits, warnings, and the SSH sessions it serves.

  --watch [N]     redraw every N seconds (default 1) in place, as watch(1)
                  does, until interrupted
  --all           every MPTCP connection of the host, not only your own
                  outgoing ones
  --json          print the API's answers as one JSON object (with
                  --watch, one object per line)
  --socket PATH   ask through this Unix socket (default: ${DEFAULT_SOCKET}
                  when it is accessible, i.e. as root)
  --url URL       ask this HTTP address (default: ${DEFAULT_URL})
  -h, --help      show this help
`;

/** What the command line asks for. */
export interface StatusArgs {
  help: boolean;
  json: boolean;
  /** Seconds between redraws; absent: once. */
  watch?: number;
  all?: boolean;
  socket?: string;
  url?: string;
}

/** Parses `mpssh status` arguments (after "status"); throws MpsshError usage. */
export function parseStatusArgs(argv: readonly string[]): StatusArgs {
  const out: StatusArgs = { help: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new MpsshError('usage', `${flag} needs a value`);
      return v;
    };
    if (flag === '-h' || flag === '--help') out.help = true;
    else if (flag === '--json') out.json = true;
    else if (flag === '--all') out.all = true;
    else if (flag === '--watch' || flag === '-w') {
      // The interval is optional: a number right after --watch is it.
      const next = inline ?? argv[i + 1];
      if (next !== undefined && /^\d+(\.\d+)?$/.test(next)) {
        if (inline === undefined) i++;
        out.watch = Number(next);
      } else if (inline !== undefined) throw new MpsshError('usage', `--watch takes a number of seconds (got "${inline}")`);
      else out.watch = 1;
      if (out.watch < 0.2 || out.watch > 3600) throw new MpsshError('usage', '--watch takes 0.2 to 3600 seconds');
    }
    else if (flag === '--socket') out.socket = value();
    else if (flag === '--url') out.url = value();
    else throw new MpsshError('usage', `unknown argument "${arg}"`);
  }
  if (out.socket !== undefined && out.url !== undefined) throw new MpsshError('usage', 'give --socket or --url, not both');
  if (out.url !== undefined && !/^https?:\/\//.test(out.url)) throw new MpsshError('usage', `--url must start with http:// (got "${out.url}")`);
  return out;
}

/** Where to ask. */
export type Target = { socket: string } | { url: string };

/** The explicit target, else the control socket when this user may use it, else the loopback URL. */
export function chooseTarget(args: StatusArgs, canUse: (p: string) => boolean = accessible): Target {
  if (args.socket !== undefined) return { socket: args.socket };
  if (args.url !== undefined) return { url: args.url };
  return canUse(DEFAULT_SOCKET) ? { socket: DEFAULT_SOCKET } : { url: DEFAULT_URL };
}

function accessible(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.R_OK | fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** GETs one path as JSON; rejects with a one-line reason. */
export function getJson(target: Target, path: string, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const opts: http.RequestOptions = { method: 'GET', headers: { accept: 'application/json' }, timeout: timeoutMs };
    let req: http.ClientRequest;
    const onResponse = (res: http.IncomingMessage): void => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          reject(new Error(`${path}: HTTP ${res.statusCode}, not JSON (is this mpsshd?)`));
          return;
        }
        if (res.statusCode !== 200) {
          const msg = (body as { error?: { message?: string } })?.error?.message ?? '';
          reject(new Error(`${path}: HTTP ${res.statusCode} ${msg}`.trim()));
        } else resolve(body);
      });
    };
    if ('socket' in target) req = http.request({ ...opts, path, socketPath: target.socket }, onResponse);
    else req = http.request(new URL(path.replace(/^\//, ''), target.url.endsWith('/') ? target.url : `${target.url}/`), opts, onResponse);
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ? `${err.code} (${err.message})` : err.message)));
    req.end();
  });
}

/** The answers `mpssh status` shows. */
export interface StatusReport {
  status: StatusView;
  interfaces: InterfacesView['interfaces'];
  endpoints: EndpointsView;
  sessions: SessionsView['sessions'];
  connections: ConnectionsView;
}

/** `10.5 Mbit/s` */
export function formatBits(bps: number | undefined): string {
  if (bps === undefined) return '-';
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
  let v = bps;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/**
 * Which connections to show: with `all`, every one; else the outgoing ones
 * of user `uid` (and outgoing ones whose owner the API does not show, where
 * /proc hides processes).
 */
export function pickConnections(c: ConnectionsView['connections'], uid: number, all: boolean): ConnectionsView['connections'] {
  if (all) return c;
  return c.filter((x) => x.direction === 'outgoing' && (x.process === undefined || x.process.uid === uid));
}

/** The connections as terminal text: one row per connection, one line per subflow (pure). */
export function renderConnections(c: ConnectionsView, shown: ConnectionsView['connections'], all: boolean): string {
  const title = all ? 'MPTCP connections' : 'Your MPTCP connections';
  if (c.periodMs === 0) return `\n${title}\n  (connection sampling is off: api.connectionSampleMs is 0)\n`;
  if (shown.length === 0) return `\n${title}\n  (none${all ? '' : '; --all shows every connection of the host'})\n`;
  const hp = (e: { address: string; port: number }): string => hostPort(e.address, e.port);
  return `\n${title}${c.error ? ` (last sample failed: ${c.error})` : ''}\n${renderTable(
    ['TO', 'PROGRAM', 'SINCE', 'RATE', 'INTERFACE', 'SUBFLOW', 'STATE', 'RTT', 'SUBFLOW RATE'],
    shown.map((x) => {
      const to = x.process?.destination ?? hp(x.direction === 'outgoing' ? x.remote : x.local);
      const subs = x.subflows;
      return [
        `${x.direction === 'incoming' ? '<- ' : ''}${to}`,
        x.process ? `${x.process.command}${x.process.user && all ? ` (${x.process.user})` : ''}` : '-',
        time(x.openedAt).slice(11),
        formatBits((x.sendBps ?? 0) + (x.recvBps ?? 0)),
        subs.map((f) => f.ifname ?? '?').join('\n') || '-',
        subs.map((f) => `${hp(f.local)} -> ${hp(f.remote)}`).join('\n'),
        subs.map((f) => (f.stale ? 'stale' : f.backup ? `${f.state}, backup` : f.state)).join('\n'),
        subs.map((f) => `${(f.rttUs / 1000).toFixed(1)} ms`).join('\n'),
        subs.map((f) => formatBits((f.sendBps ?? 0) + (f.recvBps ?? 0))).join('\n'),
      ];
    }),
    '  ',
  )}`;
}

const time = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

/** The report as terminal text (pure); `uid` and `all` choose the connections shown. */
export function renderReport(r: StatusReport, uid = -1, all = true): string {
  const s = r.status;
  const parts: string[] = [];
  const pm = s.pathManager.enabled ? `path manager ${s.pathManager.kind}` : 'path manager off';
  const lim = s.limits ? `limits: ${s.limits.subflows} subflows, ${s.limits.addAddrAccepted} add_addr accepted` : 'limits: unknown';
  parts.push(`mpsshd ${s.version}, up ${formatDuration(s.uptimeSeconds)}; MPTCP ${s.mptcp.enabled ? (s.mptcp.available ? 'on' : 'enabled but unavailable') : 'OFF'}; ${pm}; ${lim}\n`);
  const lr = s.lastReconcile;
  parts.push(
    lr
      ? `last reconcile: pass ${lr.pass} at ${time(lr.at)} (${lr.triggers.join(', ') || '-'}), ${lr.durationMs} ms, ${lr.changes} change(s), ${lr.failedChanges} failed; ${s.reconcileCount} passes\n`
      : 'last reconcile: none yet\n',
  );
  parts.push(`ssh: ${s.ssh.state}${s.ssh.listeners.length ? ` (${s.ssh.listeners.map((l) => `${hostPort(l.address, l.port)} ${l.state}`).join(', ')})` : ''}; api: ${s.api.state}\n`);
  parts.push(renderConnections(r.connections, pickConnections(r.connections.connections, uid, all), all));
  if (s.warnings.length > 0) parts.push(`\nWarnings\n${renderTable(['CODE', 'SINCE', 'MESSAGE'], s.warnings.map((w) => [w.code, time(w.since), w.message]), '  ')}`);

  parts.push(
    `\nInterfaces\n${renderTable(
      ['NAME', 'STATE', 'MODE', 'ADDRESSES', 'SUBFLOWS'],
      r.interfaces.map((i) => [
        i.name,
        i.up ? (i.lowerUp ? 'up' : 'no-carrier') : 'down',
        i.mode ? i.mode.join(',') : 'ignored',
        i.addresses.map((a) => `${a.address}/${a.prefixLen}${a.endpoint ? ` endpoint ${a.endpoint.id}` : a.unused ? ` unused: ${a.unused.reason}` : ''}`).join('\n') || '-',
        String(i.subflows),
      ]),
      '  ',
    )}`,
  );
  parts.push(
    `\nEndpoints\n${
      r.endpoints.endpoints.length === 0
        ? '  (none)\n'
        : renderTable(
            ['ID', 'ADDRESS', 'INTERFACE', 'FLAGS', 'OWNER'],
            r.endpoints.endpoints.map((e) => [String(e.id), e.port ? `${e.address} port ${e.port}` : e.address, e.ifname ?? '-', e.flags.join(','), e.owner]),
            '  ',
          )
    }`,
  );
  if (r.endpoints.unused.length > 0) {
    parts.push(`\nAddresses not used\n${renderTable(['ADDRESS', 'INTERFACE', 'REASON'], r.endpoints.unused.map((u) => [u.address, u.ifname, u.detail ? `${u.reason} (${u.detail})` : u.reason]), '  ')}`);
  }
  parts.push(
    `\nSSH sessions served here\n${
      r.sessions.length === 0
        ? '  (none)\n'
        : renderTable(
            ['ID', 'USER', 'CLIENT', 'TRANSPORT', 'STARTED', 'SENT', 'RECEIVED', 'SUBFLOWS'],
            r.sessions.map((x) => [
              x.id,
              x.user === undefined ? '-' : x.user || '(authenticating)',
              hostPort(x.client.address, x.client.port),
              x.transport,
              time(x.startedAt),
              formatBytes(x.bytesSent),
              formatBytes(x.bytesReceived),
              Object.entries(x.subflowsByInterface).map(([k, n]) => `${k}: ${n}`).join('\n') || '-',
            ]),
            '  ',
          )
    }`,
  );
  return parts.join('');
}

/** An answer as the schema says, or an error naming the path (an mpsshd of another version, or not mpsshd at all). */
function check<T extends z.ZodType>(schema: T, body: unknown, path: string): z.output<T> {
  const r = schema.safeParse(body);
  if (!r.success) throw new Error(`${path}: unexpected answer (${zodMessage(r.error)}); is mpssh the same version as mpsshd?`);
  return r.data;
}

/** Runs `mpssh status`; returns the exit status (0 ok, 1 mpsshd unreachable or failing, 2 usage). */
export async function runStatus(argv: string[], io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream; signal?: AbortSignal } = { out: process.stdout, err: process.stderr }): Promise<number> {
  let args: StatusArgs;
  try {
    args = parseStatusArgs(argv);
  } catch (err) {
    io.err.write(`mpssh status: ${(err as Error).message}\n${STATUS_USAGE}`);
    return 2;
  }
  if (args.help) {
    io.out.write(STATUS_USAGE);
    return 0;
  }
  const target = chooseTarget(args);
  const uid = process.getuid?.() ?? -1;
  const once = async (): Promise<string> => {
    const [status, interfaces, endpoints, sessions, connections] = await Promise.all([
      getJson(target, '/status'),
      getJson(target, '/interfaces'),
      getJson(target, '/endpoints'),
      getJson(target, '/sessions'),
      getJson(target, '/connections'),
    ]);
    const report: StatusReport = {
      status: check(S.status, status, '/status'),
      interfaces: check(S.interfaces, interfaces, '/interfaces').interfaces,
      endpoints: check(S.endpoints, endpoints, '/endpoints'),
      sessions: check(S.sessions, sessions, '/sessions').sessions,
      connections: check(S.connections, connections, '/connections'),
    };
    if (args.json) return `${JSON.stringify(report, null, args.watch === undefined ? 2 : undefined)}\n`;
    return renderReport(report, uid, args.all === true);
  };
  const where = 'socket' in target ? target.socket : target.url;
  if (args.watch === undefined) {
    try {
      io.out.write(await once());
      return 0;
    } catch (err) {
      io.err.write(`mpssh status: cannot get the status from mpsshd at ${where}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  return watch(args, once, where, io);
}

/**
 * Redraws until interrupted, as watch(1): home the cursor, the report, clear
 * what the last one left below. An unreachable daemon is shown and retried,
 * not fatal: it may be restarting. JSON goes out as one line per refresh.
 */
async function watch(args: StatusArgs, once: () => Promise<string>, where: string, io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream; signal?: AbortSignal }): Promise<number> {
  const ms = (args.watch ?? 1) * 1000;
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  io.signal?.addEventListener('abort', stop);
  const tty = (io.out as { isTTY?: boolean }).isTTY === true && !args.json;
  if (tty) io.out.write('\x1b[2J');
  try {
    while (!ac.signal.aborted) {
      let text: string;
      try {
        text = await once();
      } catch (err) {
        text = `cannot get the status from mpsshd at ${where}: ${(err as Error).message}\n`;
      }
      const head = `Every ${args.watch}s: mpssh status${args.all ? ' --all' : ''}    ${new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')}\n\n`;
      io.out.write(args.json ? text : tty ? `\x1b[H${head}${text.replace(/\n/g, '\x1b[K\n')}\x1b[J` : `${head}${text}\n`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        ac.signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        }, { once: true });
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return 0;
}
