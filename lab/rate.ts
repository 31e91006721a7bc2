/** Rates as tc writes them ("100mbit", "20Mbit", "512kbit", "1gbit"), in bits per second. */
export function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)?$/i.exec(text.trim());
  if (!m) throw new Error(`not a rate: "${text}" (say 100mbit, 512kbit, 1gbit)`);
  const scale: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };
  return Math.round(Number(m[1]) * (scale[(m[2] ?? 'bit').toLowerCase()] ?? 1));
}

/** A rate in Mbit/s with one decimal, for reports. */
export function mbit(bitsPerSecond: number): number {
  return Math.round(bitsPerSecond / 1e5) / 10;
}

/**
 * The tbf bucket for a rate: at least 64 KiB so that a GSO packet from the
 * veth fits in one go (tbf would otherwise segment or drop it), and about
 * 4 ms of traffic at higher rates.
 */
export function tbfBurstBytes(bitsPerSecond: number): number {
  return Math.max(64 * 1024, Math.round((bitsPerSecond / 8) * 0.004));
}
