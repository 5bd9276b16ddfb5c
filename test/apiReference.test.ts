/**
 * The public API is what the README documents: the names of its reference section equal the
 * exports of `latephase` (values and types), both ways; and any name the README writes in
 * backticks that some module of the toolkit exports is reachable from `latephase` or
 * `latephase/internal` (a documented function the package does not give is a broken promise).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..', '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** Every name an entry module exports (values and types), from its source. */
function exportsOf(entry: string): Set<string> {
  const file = path.join(ROOT, entry);
  const program = ts.createProgram([file], { strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
  return new Set(checker.getExportsOfModule(module).map((s) => s.name));
}

/** Identifiers written in backticks (`name`, `name(...)`, `name.field`: the leading identifier; not paths such as `src/nn`). */
function backticked(text: string): Set<string> {
  return new Set(
    [...text.matchAll(/`([^`\n]+)`/g)].flatMap((m) => {
      const id = /^([A-Za-z_$][\w$]*)(?![\w$/-])/.exec(m[1]!);
      return id ? [id[1]!] : [];
    }),
  );
}

/** A name that reads as code: called (`name(`), or camel/Pascal case (a bare lower-case word is a config field or a CLI word). */
const readsAsCode = (text: string, name: string): boolean => /[A-Z]/.test(name) || text.includes('`' + name + '(');

const section = (start: string, end: string): string => {
  const a = README.indexOf(start);
  const b = README.indexOf(end);
  assert.ok(a >= 0 && b > a, `README has ${start} ... ${end}`);
  return README.slice(a, b);
};

const publicApi = exportsOf('api/index.ts');

test("the README's API reference lists exactly the package's exports", () => {
  const documented = backticked(section('<!-- api-reference:start -->', '<!-- api-reference:end -->'));
  const undocumented = [...publicApi].filter((n) => !documented.has(n)).sort();
  const missing = [...documented].filter((n) => !publicApi.has(n)).sort();
  assert.deepEqual(undocumented, [], 'exported by latephase, not in the README reference: document or move to latephase/internal');
  assert.deepEqual(missing, [], 'in the README reference, not exported by latephase');
});

test('every toolkit function the README names is exported by latephase or latephase/internal', () => {
  const internal = exportsOf('api/internal.ts');
  const sources = ['src', 'export', 'job', 'models']
    .flatMap((dir) => fs.readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' }).map((f) => path.join(ROOT, dir, f)))
    .filter((f) => f.endsWith('.ts'));
  const exported = new Set(
    sources.flatMap((f) =>
      [...fs.readFileSync(f, 'utf8').matchAll(/^export (?:async )?(?:function|const|class|abstract class) ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]!),
    ),
  );
  const unreachable = [...backticked(README)]
    .filter((n) => readsAsCode(README, n) && exported.has(n) && !publicApi.has(n) && !internal.has(n))
    .sort();
  assert.deepEqual(unreachable, [], 'the README names these, neither entry exports them');
});
