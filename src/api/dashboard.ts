/**
 * GET /: the dashboard. One HTML page, its script and style, and uPlot from
 * the installed package, all served from here; the Content-Security-Policy
 * keeps the page from loading anything from elsewhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { MpsshError } from '../util/errors.js';

/** The package root: the first directory above `from` holding package.json. */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** Where the dashboard's files live (not compiled, so shipped as they are). */
export function dashboardDir(): string {
  return path.join(packageRoot(), 'src', 'api', 'dashboard');
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  type: string;
  file: string;
}

const ASSETS: Record<string, Asset> = {
  '/': { type: 'text/html; charset=utf-8', file: 'index.html' },
  '/dashboard/dashboard.js': { type: 'text/javascript; charset=utf-8', file: 'dashboard.js' },
  '/dashboard/dashboard.css': { type: 'text/css; charset=utf-8', file: 'dashboard.css' },
  '/dashboard/uPlot.min.js': { type: 'text/javascript; charset=utf-8', file: 'uplot/dist/uPlot.iife.min.js' },
  '/dashboard/uPlot.min.css': { type: 'text/css; charset=utf-8', file: 'uplot/dist/uPlot.min.css' },
};

function resolveAsset(file: string): string {
  return file.startsWith('uplot/') ? require.resolve(file) : path.join(dashboardDir(), file);
}

/** Registers the dashboard's routes. Files are read once, on first request. */
export function dashboardRoutes(app: FastifyInstance): void {
  const cache = new Map<string, Buffer>();
  for (const [url, asset] of Object.entries(ASSETS)) {
    app.get(url, async (req, reply) => {
      let body = cache.get(url);
      if (!body) {
        try {
          body = fs.readFileSync(resolveAsset(asset.file));
        } catch (err) {
          req.log.error({ err: (err as Error).message }, 'dashboard file missing');
          throw new MpsshError('unavailable', 'dashboard files missing');
        }
        cache.set(url, body);
      }
      return reply.type(asset.type).header('content-security-policy', CSP).header('cache-control', 'no-cache').send(body);
    });
  }
}
