/** The toolkit's name and version, read from its package.json (works from src/ and dist/src/). */
import * as fs from 'fs';
import * as path from 'path';

function findPackageJson(): { name: string; version: string } {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'latephase') return { name: pkg.name, version: pkg.version ?? '0.0.0' };
    }
    if (path.dirname(dir) === dir) return { name: 'latephase', version: '0.0.0' };
  }
}

export const PACKAGE = findPackageJson();
