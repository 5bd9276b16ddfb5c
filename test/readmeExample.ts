/**
 * The README's API example, taken from README.md (between the readme-example markers) and turned
 * into a runnable CommonJS script: the test runs it against this checkout, CI's packed-install
 * step runs it unchanged in a fresh project (`node dist/test/readmeExample.js <dir>` writes it).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

export const README = path.join(__dirname, '..', '..', 'README.md');

/** The TypeScript source of the example, exactly as README.md shows it. */
export function readmeExampleSource(readme = README): string {
  const text = fs.readFileSync(readme, 'utf8');
  const block = /<!-- readme-example:start -->\s*```ts\n([\s\S]*?)```\s*<!-- readme-example:end -->/.exec(text);
  if (!block?.[1]) throw new Error(`${readme}: no readme-example block`);
  return block[1];
}

/** The example as a CommonJS script; top-level await runs inside an async function. */
export function readmeExampleScript(readme = README): string {
  const js = ts.transpileModule(readmeExampleSource(readme), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  return `(async () => {\n${js}\n})().catch((err) => { console.error(err); process.exit(1); });\n`;
}

// `node readmeExample.js <folder>` writes the script (node's test runner loads this file without arguments).
const target = require.main === module ? process.argv[2] : undefined;
if (target) {
  const dir = target;
  fs.writeFileSync(path.join(dir, 'readme-example.js'), readmeExampleScript());
}
