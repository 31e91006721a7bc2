/**
 * mlkem768x25519-sha256, the post-quantum hybrid key exchange of OpenSSH
 * 9.9 and later (its default since 10.0; draft-ietf-sshm-mlkem-hybrid-kex),
 * server side, for ssh2's key-exchange machinery.
 *
 * The client's SSH_MSG_KEX_HYBRID_INIT carries C_INIT = C_PK2 || C_PK1: an
 * ML-KEM-768 encapsulation key (1184 bytes, FIPS 203) and an X25519 public
 * key (32). The server encapsulates to the first and answers S_REPLY =
 * S_CT2 || S_PK1: the ML-KEM ciphertext (1088) and its own X25519 key. The
 * shared secret is K = SHA-256(K_PQ || K_CL), 32 bytes, and unlike the
 * classic exchanges it enters the exchange hash and the key derivation as
 * a string, not an mpint. ML-KEM itself comes from @noble/post-quantum; the
 * hybrid construction is ours.
 */
import crypto from 'node:crypto';

/** Sizes from FIPS 203 (ML-KEM-768) and RFC 7748 (X25519). */
export const MLKEM768_PUBLIC = 1184;
export const MLKEM768_CIPHERTEXT = 1088;
export const X25519_KEY = 32;
export const HYBRID_KEX_NAME = 'mlkem768x25519-sha256';

interface MlKem {
  encapsulate(publicKey: Uint8Array, msg?: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array };
}

let mlkem: MlKem | undefined;
/** Loads ML-KEM now: a confined worker can no longer read module files. */
export function mlKem768(): MlKem {
  // An ES module, loaded on the first hybrid exchange only (Node 20.19+ requires ES modules).
  mlkem ??= (require('@noble/post-quantum/ml-kem.js') as { ml_kem768: MlKem }).ml_kem768;
  return mlkem;
}

/** The X25519 public key of a private key, raw. */
function x25519Public(priv: crypto.KeyObject): Buffer {
  return crypto.createPublicKey(priv).export({ type: 'spki', format: 'der' }).subarray(-X25519_KEY);
}

/** X25519 with a raw peer key; refuses the all-zero result of a low-order point (RFC 7748 §6.1). */
export function x25519Shared(priv: crypto.KeyObject, peer: Buffer): Buffer {
  const spki = Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), peer]);
  const shared = crypto.diffieHellman({ privateKey: priv, publicKey: crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' }) });
  if (shared.every((b) => b === 0)) throw new Error('X25519 shared secret is all zero');
  return shared;
}

/**
 * The server's half of the exchange: S_REPLY and K for a client's C_INIT.
 * `rand` fixes the ML-KEM message and the X25519 key, for known-answer tests.
 */
export function hybridServerReply(clientInit: Buffer, rand?: { mlkemMessage: Buffer; x25519Private: crypto.KeyObject }): { reply: Buffer; secret: Buffer } {
  if (clientInit.length !== MLKEM768_PUBLIC + X25519_KEY) throw new Error(`hybrid init of ${clientInit.length} bytes, expected ${MLKEM768_PUBLIC + X25519_KEY}`);
  const pq = mlKem768().encapsulate(clientInit.subarray(0, MLKEM768_PUBLIC), rand?.mlkemMessage);
  const priv = rand?.x25519Private ?? crypto.generateKeyPairSync('x25519').privateKey;
  const kcl = x25519Shared(priv, clientInit.subarray(MLKEM768_PUBLIC));
  const secret = crypto.createHash('sha256').update(pq.sharedSecret).update(kcl).digest();
  return { reply: Buffer.concat([Buffer.from(pq.cipherText), x25519Public(priv)]), secret };
}

/** What ssh2's KeyExchange base class is, as far as the hybrid needs it. */
type KeyExchangeBase = new (...args: unknown[]) => { _protocol: { _server: boolean } };

/**
 * The hybrid as a subclass of ssh2's KeyExchange, for ssh2's factory (see
 * ssh2-internals.ts). ssh2 calls computeSecret with the client's data before
 * getPublicKey for the reply, and hashes and derives keys from what
 * computeSecret returns with a length in front: K as a string, as the
 * hybrid wants it.
 */
export function defineHybridExchange(KeyExchange: KeyExchangeBase): new (hashName: string, ...args: unknown[]) => object {
  return class MlKem768X25519Exchange extends KeyExchange {
    type = 'mlkem768x25519';
    hashName: string;
    private reply: Buffer | undefined;

    constructor(hashName: string, ...args: unknown[]) {
      super(...args);
      this.hashName = hashName;
    }

    generateKeys(): void {
      // The server's keys depend on the client's init; made in computeSecret.
    }

    getPublicKey(): Buffer {
      if (!this._protocol._server) throw new Error(`${HYBRID_KEX_NAME} is served, not spoken as a client`);
      if (this.reply === undefined) throw new Error(`${HYBRID_KEX_NAME}: reply asked for before the client's init`);
      return this.reply;
    }

    convertPublicKey(key: Buffer): Buffer {
      return key;
    }

    computeSecret(clientInit: Buffer): Buffer | Error {
      try {
        const { reply, secret } = hybridServerReply(clientInit);
        this.reply = reply;
        return secret;
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    }
  };
}
