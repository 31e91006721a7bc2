/**
 * Errors of netlink requests. A kernel refusal keeps its errno, the errno's
 * name and the kernel's extended-ack text, so callers branch on `code` and
 * operators read what the kernel said.
 */
import { errnoName, errnoText } from '../util/errno.js';

/** Fields of a NetlinkError besides the message. */
export interface NetlinkErrorInit {
  /** Positive errno. */
  errno: number;
  requestType: number;
  /** Name of the request for messages, e.g. "RTM_NEWADDR"; defaults to its type number. */
  requestName?: string;
  extack?: string;
  extackOffset?: number;
  /** Replaces the errno's description in the message (e.g. "no reply within 5000 ms"). */
  detail?: string;
  /** The system call that failed, when the error is local rather than the kernel's answer. */
  syscall?: string;
}

/**
 * A netlink request the kernel refused (NLMSG_ERROR with a negative error),
 * or one that could not complete locally (send failed, timed out, socket closed).
 * The message reads "RTM_NEWADDR failed: EEXIST (File exists): <extack text>".
 */
export class NetlinkError extends Error {
  /** Positive errno. */
  readonly errno: number;
  /** errno's name, e.g. "EEXIST". */
  readonly code: string;
  /** The kernel's extended-ack message (NLMSGERR_ATTR_MSG), if it gave one. */
  readonly extack?: string;
  /** Byte offset in the request of the attribute the kernel blamed (NLMSGERR_ATTR_OFFS). */
  readonly extackOffset?: number;
  readonly requestType: number;
  readonly requestName: string;
  readonly syscall?: string;

  constructor(init: NetlinkErrorInit) {
    const errno = Math.abs(init.errno);
    const code = errnoName(errno);
    const name = init.requestName ?? `netlink request type ${init.requestType}`;
    const text = init.extack ? `: ${init.extack}` : '';
    super(`${name} failed: ${code} (${init.detail ?? errnoText(errno)})${text}`);
    this.name = 'NetlinkError';
    this.errno = errno;
    this.code = code;
    if (init.extack !== undefined) this.extack = init.extack;
    if (init.extackOffset !== undefined) this.extackOffset = init.extackOffset;
    this.requestType = init.requestType;
    this.requestName = name;
    if (init.syscall !== undefined) this.syscall = init.syscall;
  }
}

/** Thrown by the codecs for bytes that are not a well-formed netlink message; `kind` is stable. */
export class NetlinkParseError extends Error {
  constructor(
    readonly kind: 'short-header' | 'bad-length' | 'bad-attribute' | 'short-payload' | 'bad-value',
    message: string,
  ) {
    super(message);
    this.name = 'NetlinkParseError';
  }
}
