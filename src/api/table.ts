/** Plain-text tables for `mpssh status`: aligned columns, cells may span several lines. */

/** Renders rows under headers; every line is trimmed at the right. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], indent = ''): string {
  const cells = [headers, ...rows].map((r) => headers.map((_, i) => (r[i] ?? '').split('\n')));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => Math.max(...(r[i] as string[]).map((l) => l.length)))));
  const out: string[] = [];
  for (const row of cells) {
    const height = Math.max(...row.map((c) => c.length));
    for (let line = 0; line < height; line++) {
      const text = row.map((c, i) => (c[line] ?? '').padEnd(widths[i] as number)).join('  ');
      out.push((indent + text).trimEnd());
    }
  }
  return out.join('\n') + '\n';
}

/** 1536 -> "1.5 KiB". */
export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** 3725 -> "1h 2m". */
export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}
