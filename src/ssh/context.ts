/**
 * What an authenticated connection's channel handlers get from the worker:
 * who the user is, where the connection comes from, and what this user may
 * do on it -- the server config narrowed by the options of the
 * authorized_keys line that was used. Everything done on the user's behalf
 * (programs, sockets) goes through `user`, the connection's user-side
 * helper, which runs as the user; the worker itself opens nothing for them.
 */
import type { Backpressure } from './backpressure.js';
import type { UserSide } from './user-side/client.js';
import type { PermitSpec } from './auth/key-options.js';
import type { Logger } from '../util/logger.js';

/** The account logged into (from the passwd database). */
export interface UserAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** The connection's two ends, as sshd puts them in SSH_CONNECTION. */
export interface PeerInfo {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

/** Effective permissions for one connection (config ∩ key options). */
export interface ChannelPolicy {
  /** pty-req allowed (key `no-pty` or `restrict` clears it). */
  pty: boolean;
  /** Key `command="..."`: run instead of whatever the client asks; the request goes to SSH_ORIGINAL_COMMAND. */
  forcedCommand?: string;
  /** Key `environment="..."`, already filtered by PermitUserEnvironment. */
  userEnvironment: { name: string; value: string }[];
  /** AcceptEnv patterns. */
  acceptEnv: string[];
  /** Subsystem name → command line. */
  subsystems: Record<string, string>;
  /** MaxSessions: open session channels at once; 0 forbids sessions. */
  maxSessions: number;
  /** AllowTcpForwarding, cleared by key `no-port-forwarding`. */
  tcpForwarding: 'all' | 'local' | 'remote' | 'no';
  /** AllowAgentForwarding, cleared by key `no-agent-forwarding`. */
  agentForwarding: boolean;
  /** PermitUserRC, cleared by the key's `no-user-rc` (or `restrict`): ~/.ssh/rc runs before programs. */
  userRc: boolean;
  /** AllowStreamLocalForwarding (Unix sockets, -L/-R with a path), cleared by key `no-port-forwarding`. */
  streamLocalForwarding: 'all' | 'local' | 'remote' | 'no';
  /** StreamLocalBindMask: permission bits taken away from sockets made for -R. */
  streamLocalBindMask: number;
  /** StreamLocalBindUnlink: remove an existing socket file before listening on its path. */
  streamLocalBindUnlink: boolean;
  /**
   * Destinations allowed for -L: `any`, `none`, or the list. sshd checks
   * both PermitOpen and the key's `permitopen=`; the worker folds the two
   * into this one value (the key's entries that PermitOpen also allows).
   */
  permitOpen: 'any' | 'none' | PermitSpec[];
  /** Listen addresses allowed for -R, same rules (PermitListen / key `permitlisten=`). */
  permitListen: 'any' | 'none' | PermitSpec[];
  /** GatewayPorts. */
  gatewayPorts: 'yes' | 'no' | 'clientspecified';
}

/** Everything channel handlers need. */
export interface ConnectionContext {
  log: Logger;
  account: UserAccount;
  peer: PeerInfo;
  policy: ChannelPolicy;
  /** Variables every user program gets besides the ones the session module sets itself (e.g. SSH_AUTH_SOCK). */
  extraEnv: Record<string, string>;
  /** The user-side helper: starts the user's programs and opens sockets as the user. */
  user: UserSide;
  /** The client connection's write buffer, which every source feeding a channel must respect. */
  pressure?: Backpressure;
}
