/**
 * Configuration values the running daemon uses after its configuration is
 * read, kept apart from the schema so that using them does not keep zod and
 * the schemas loaded (see read.ts).
 */

/** Endpoint modes, as the kernel names its MPTCP_PM_ADDR_FLAG_* flags (include/uapi/linux/mptcp.h). */
export const MODES = ['subflow', 'signal', 'backup', 'fullmesh'] as const;
export type Mode = (typeof MODES)[number];
/** The one order of modes in comparisons, logs and the status: signal, subflow, backup, fullmesh. */
export const MODE_ORDER: readonly Mode[] = ['signal', 'subflow', 'backup', 'fullmesh'];

/**
 * The largest net.mptcp.close_timeout every kernel takes, in seconds:
 * proc_dointvec_jiffies refuses seconds × HZ above INT_MAX, and HZ is at most 1000.
 */
export const MAX_CLOSE_TIMEOUT_SECONDS = Math.floor(0x7fffffff / 1000);
