/**
 * A worker's log lines travel to the daemon over its control channel,
 * never straight into the daemon's output: after the privilege drop a worker
 * is the user's process, and a user who took it over must not be able to
 * write lines that look like the daemon's (a forged "Failed publickey ...
 * from <someone's address>" would make fail2ban ban them). The daemon
 * re-logs each line under its own bindings, metered, and marks what came
 * after the login.
 */
import { Writable } from 'node:stream';

/** Lines kept while no daemon listens (between a daemon stopping and the next finding the session). */
export const RELAY_BACKLOG = 200;

export interface LogRelay {
  /** The pino destination. */
  stream: Writable;
  /** Where lines go from now on (`send` says whether anyone took the line); lines kept meanwhile are sent first. */
  connect(send: (line: string) => boolean): void;
  /** Sends what was kept while nobody listened (a daemon found the session again). */
  flush(): void;
}

/** A pino destination that hands each line to the sink `connect` names. */
export function logRelay(): LogRelay {
  let sink: ((line: string) => boolean) | undefined;
  const backlog: string[] = [];
  const keep = (line: string): void => {
    backlog.push(line);
    if (backlog.length > RELAY_BACKLOG) backlog.shift();
  };
  const emit = (line: string): void => {
    if (line === '') return;
    if (!sink || !sink(line)) keep(line);
  };
  const flush = (): void => {
    for (const line of backlog.splice(0)) emit(line);
  };
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      for (const line of chunk.toString().split('\n')) emit(line);
      cb();
    },
  });
  return {
    stream,
    connect(send) {
      sink = send;
      flush();
    },
    flush,
  };
}

/** Fields a relayed line may not set: the daemon's own bindings and pino's framing. */
const RESERVED = new Set(['level', 'time', 'pid', 'hostname', 'mod', 'session', 'v']);

/**
 * What the daemon logs for one relayed line: its level, its message and
 * its fields, with `session`, `workerPid` bound by the daemon. Lines after
 * the login are the user's word: they carry `afterLogin` and their message
 * says whose session it comes from, so that no pattern anchored on sshd's
 * words ("^Failed publickey for") matches them. Undefined for a line that is
 * not a JSON object.
 */
export function relayedLine(line: string, known: { session: string; workerPid: number; afterLogin: boolean; user?: string }): { level: number; msg: string; fields: Record<string, unknown> } | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const o = raw as Record<string, unknown>;
  const level = typeof o.level === 'number' && [10, 20, 30, 40, 50, 60].includes(o.level) ? o.level : 30;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!RESERVED.has(k) && k !== 'msg') fields[k] = v;
  let msg = typeof o.msg === 'string' ? o.msg : '';
  if (known.afterLogin) {
    // Events stay (our own worker reports keepalive timeouts and the like after the login), but say whose word they are.
    fields.afterLogin = true;
    msg = `session of ${known.user ?? '?'}: ${msg}`;
  }
  fields.session = known.session;
  fields.workerPid = known.workerPid;
  return { level, msg, fields };
}
