/**
 * Layer and tensor names chosen by pattern, as fine-tuning configs choose them ("every BatchNorm
 * in layer4", "freeze features.*"): `*` matches any run of characters (dots included), `?` one
 * character, anything else itself. A pattern matches a whole name or one of its leading
 * dot-separated parts, as PyTorch module prefixes do: `fc` chooses `fc.weight` and `fc.bias`,
 * `layer1` everything in `layer1.0.conv1.weight`'s block. A member's `[k]` suffix is ignored. A
 * pattern that matches nothing is a typo the caller reports (`checkAllMatched`).
 */
import { ConfigError } from '../errors';

export class NamePatterns {
  private readonly compiled: ReadonlyArray<{ readonly text: string; readonly re: RegExp }>;
  private readonly used = new Set<string>();

  constructor(
    readonly patterns: readonly string[],
    /** Where the patterns come from, for errors: `latePhase.kinds.rank1`, `optimizer.groups[0].match`. */
    readonly field: string,
  ) {
    if (!patterns.length) throw new ConfigError(`${field}: give at least one name pattern`);
    this.compiled = patterns.map((text) => {
      if (typeof text !== 'string' || !text.trim())
        throw new ConfigError(`${field}: a name pattern must be a non-empty string, got ${JSON.stringify(text)}`);
      return { text, re: globToRegExp(text.trim()) };
    });
  }

  /** Whether `name` (a layer name, or `layer.tensor`) is chosen; remembers which patterns matched. */
  matches(name: string): boolean {
    const candidates = leadingParts(name.replace(/\[\d+\]$/, ''));
    let hit = false;
    for (const { text, re } of this.compiled) {
      if (candidates.some((c) => re.test(c))) {
        this.used.add(text);
        hit = true;
      }
    }
    return hit;
  }

  /** The patterns no name has matched yet. */
  unmatched(): string[] {
    return this.compiled.map((c) => c.text).filter((t) => !this.used.has(t));
  }

  /** ConfigError naming the patterns that matched none of `what` (e.g. 'layer', 'parameter'). */
  checkAllMatched(what: string, examples: readonly string[]): void {
    const missing = this.unmatched();
    if (!missing.length) return;
    const shown = examples.slice(0, 8).join(', ') + (examples.length > 8 ? ', ...' : '');
    throw new ConfigError(`${this.field}: ${missing.map((p) => `'${p}'`).join(', ')} matches no ${what} (the model's: ${shown || 'none'})`);
  }
}

/** `a.b.c` -> [`a.b.c`, `a.b`, `a`]. */
function leadingParts(name: string): string[] {
  const out = [name];
  for (let dot = name.lastIndexOf('.'); dot > 0; dot = name.lastIndexOf('.', dot - 1)) out.push(name.slice(0, dot));
  return out;
}

function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}
