/**
 * zod/mini (tree-shakable, so bundles stay small) ships without messages; this gives it
 * the English ones once. Every module that defines schemas imports this first.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());
