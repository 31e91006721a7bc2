/**
 * The hybrid key exchange's server half against a client half written here
 * from the specification (draft-ietf-sshm-mlkem-hybrid-kex): C_INIT =
 * ML-KEM-768 encapsulation key || X25519 key, S_REPLY = ciphertext ||
 * X25519 key, K = SHA-256(K_PQ || K_CL). Interop with OpenSSH's own client
 * is in test/netns/ssh-interop.test.ts.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { hybridServerReply, MLKEM768_CIPHERTEXT, MLKEM768_PUBLIC, X25519_KEY, x25519Shared } from '../../src/ssh/kex-mlkem.js';

const { ml_kem768 } = require('@noble/post-quantum/ml-kem.js') as {
  ml_kem768: { keygen(seed?: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array }; decapsulate(ct: Uint8Array, sk: Uint8Array): Uint8Array };
};

function clientHalf() {
  const kem = ml_kem768.keygen();
  const x = crypto.generateKeyPairSync('x25519');
  const xPub = x.publicKey.export({ type: 'spki', format: 'der' }).subarray(-X25519_KEY);
  return { kem, x, init: Buffer.concat([Buffer.from(kem.publicKey), xPub]) };
}

test('mlkem768x25519-sha256: the client derives the same K from S_REPLY', () => {
  for (let i = 0; i < 5; i++) {
    const c = clientHalf();
    const { reply, secret } = hybridServerReply(c.init);
    assert.equal(reply.length, MLKEM768_CIPHERTEXT + X25519_KEY);
    const kpq = ml_kem768.decapsulate(reply.subarray(0, MLKEM768_CIPHERTEXT), c.kem.secretKey);
    const kcl = x25519Shared(c.x.privateKey, reply.subarray(MLKEM768_CIPHERTEXT));
    const k = crypto.createHash('sha256').update(kpq).update(kcl).digest();
    assert.deepEqual(secret, k);
    assert.equal(secret.length, 32, 'K is a 32-byte string, not an mpint');
  }
});

test('mlkem768x25519-sha256: fixed randomness gives a fixed answer; malformed inits are refused', () => {
  const kem = ml_kem768.keygen(new Uint8Array(64).fill(7));
  const peer = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), Buffer.alloc(32, 9)]), format: 'der', type: 'pkcs8' });
  const init = Buffer.concat([Buffer.from(kem.publicKey), crypto.createPublicKey(peer).export({ type: 'spki', format: 'der' }).subarray(-32)]);
  const mine = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), Buffer.alloc(32, 5)]), format: 'der', type: 'pkcs8' });
  const a = hybridServerReply(init, { mlkemMessage: Buffer.alloc(32, 1), x25519Private: mine });
  const b = hybridServerReply(init, { mlkemMessage: Buffer.alloc(32, 1), x25519Private: mine });
  assert.deepEqual(a, b, 'deterministic given its randomness');
  assert.throws(() => hybridServerReply(init.subarray(1)), /hybrid init of 1215 bytes, expected 1216/);
  assert.throws(() => hybridServerReply(Buffer.alloc(MLKEM768_PUBLIC + X25519_KEY + 1)), /expected 1216/);
  // An X25519 key of low order (all zero) gives an all-zero secret, which OpenSSL (or, failing it, we) refuse.
  const lowOrder = Buffer.concat([Buffer.from(kem.publicKey), Buffer.alloc(32)]);
  assert.throws(() => hybridServerReply(lowOrder), /all zero|failed during derivation/);
});
