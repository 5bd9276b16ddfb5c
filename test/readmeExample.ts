/**
 * The README's API example, taken from README.md (between the readme-example markers) and turned
 * into a runnable CommonJS script: the test runs it against this checkout, CI's packed-install
 * step runs it unchanged in a fresh project (`node dist/test/readmeExample.js <dir>` writes it).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

export const README = path.join(__dirname, '..', '..', 'README.md');

/** The TypeScript source of a README block, exactly as README.md shows it (`<!-- readme-NAME:start -->`). */
export function readmeBlock(name: string, readme = README): string {
  const text = fs.readFileSync(readme, 'utf8');
  const block = new RegExp(`<!-- readme-${name}:start -->\\s*\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\s*<!-- readme-${name}:end -->`).exec(text);
  if (!block?.[1]) throw new Error(`${readme}: no readme-${name} block`);
  return block[1];
}

export function readmeExampleSource(readme = README): string {
  return readmeBlock('example', readme);
}

/** A README block as CommonJS. */
export function transpile(source: string): string {
  return ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
}

/** The example as a CommonJS script; top-level await runs inside an async function. */
export function readmeExampleScript(readme = README): string {
  return `(async () => {\n${transpile(readmeExampleSource(readme))}\n})().catch((err) => { console.error(err); process.exit(1); });\n`;
}

/** Type-check TypeScript sources (file name -> text) placed in `dir` against the package as `latephase` resolves. */
export function typeErrors(dir: string, files: Readonly<Record<string, string>>): string[] {
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const program = ts.createProgram(
    Object.keys(files).map((name) => path.join(dir, name)),
    {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.Node16,
      moduleResolution: ts.ModuleResolutionKind.Node16,
      types: ['node'],
      skipLibCheck: true,
    },
  );
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

// `node readmeExample.js <folder>` writes the script (node's test runner loads this file without arguments).
const target = require.main === module ? process.argv[2] : undefined;
if (target) {
  const dir = target;
  fs.writeFileSync(path.join(dir, 'readme-example.js'), readmeExampleScript());
}
