/** The package version, read once from package.json. */
import fs from 'node:fs';
import path from 'node:path';

/** mpssh's version string ("0.1.0"). */
export const VERSION: string = (JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version;
