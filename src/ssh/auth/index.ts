/**
 * Authentication decisions of the SSH server, with OpenSSH sshd semantics:
 * authorized_keys parsing, pattern and address matching, access checks,
 * pre-authentication limits, StrictModes, and sshd-style log lines.
 */
export * from './authorized-keys.js';
export * from './key-blob.js';
export * from './key-options.js';
export * from './match.js';
export * from './access.js';
export * from './limits.js';
export * from './strict-modes.js';
export * from './auth-log.js';
export * from './account-state.js';
export * from './failure-delay.js';
export * from './pam-attempt.js';
export * from './penalties.js';
export * from './certificate.js';
export * from './cert-policy.js';
export * from './cert-authority.js';
export * from './ssh-signature.js';
