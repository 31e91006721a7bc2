/**
 * The walk scenario's byte source, run on the server through SSH: a
 * deterministic sequence (AES-128-CTR keystream over zeros, fixed key) on
 * stdout as fast as the connection takes it, until stdin ends. The client
 * makes the same sequence to check every byte it got.
 */
import crypto from 'node:crypto';

const KEY = Buffer.alloc(16, 0x6d);
const IV = Buffer.alloc(16, 0);
const BLOCK = 64 * 1024;

/** A generator of the sequence: each call returns the next `n` bytes. */
export function sequence(): (n: number) => Buffer {
  const c = crypto.createCipheriv('aes-128-ctr', KEY, IV);
  return (n) => c.update(Buffer.alloc(n));
}

function main(): void {
  const next = sequence();
  let stopped = false;
  process.stdin.on('data', () => undefined).on('end', () => (stopped = true)).on('error', () => (stopped = true));
  const pump = (): void => {
    while (!stopped) {
      if (!process.stdout.write(next(BLOCK))) {
        process.stdout.once('drain', pump);
        return;
      }
    }
    process.stdout.end();
  };
  process.stdout.on('error', () => process.exit(1));
  pump();
}

if (require.main === module) main();
