/**
 * The captured kernel fixture (see test/fixtures/mptcp-pm-capture.ts for how
 * it is made) and small builders of messages the kernel would send.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface KernelFixture {
  kernel: string;
  family: { id: number; name: string; version: number; groups: Record<string, number> };
  requests: { command: string; sent: { flags: string; payload: string }[] }[];
  replies: {
    getFamilyMptcpPm: string;
    getFamilyNlctrl: string;
    dumpEndpoints: string[];
    dumpShownByIp: string[];
    getLimits: string;
  };
  errors: { what: string; errno: number; code: string; extack: string | null }[];
  events: { ns: 'a' | 'b'; payload: string }[];
}

/** The fixture captured on Linux 6.18. */
export const FIXTURE: KernelFixture = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '../../../test/fixtures/mptcp-pm-kernel-6.18.json'), 'utf8'),
) as KernelFixture;

/** The genl payload iproute2 sent for `ip mptcp ARGS`. */
export function sentBy(args: string): Buffer {
  const r = FIXTURE.requests.find((x) => x.command === `ip mptcp ${args}`);
  if (!r || r.sent.length !== 1) throw new Error(`fixture has no single request for ip mptcp ${args}`);
  return Buffer.from(r.sent[0]!.payload, 'hex');
}

/** Copy of a genl payload with another command byte (nlctrl notifications share the GETFAMILY reply's layout). */
export function withCmd(payloadHex: string, cmd: number): Buffer {
  const b = Buffer.from(payloadHex, 'hex');
  b.writeUInt8(cmd, 0);
  return b;
}
