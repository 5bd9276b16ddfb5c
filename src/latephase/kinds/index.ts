/**
 * The built-in late-phase kinds, listed: each module registers its kind when loaded
 * (kindRegistry.ts loads this index on first use). A new kind adds its module and a line here;
 * a test checks that this list and the folder agree.
 */
import './batchNorm';
import './full';
import './head';
import './rank1';
import './templates';
