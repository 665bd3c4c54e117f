/**
 * zod/mini (tree-shakable, so bundles stay small) with its English messages, set once:
 * every schema module imports `z` from here, so no schema runs without them.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
