// Starts one of meshcp's programs from dist/ (compiled by `npm run build` or `npm start`). In a development checkout
// whose dist/ is missing or older than src/, it runs the TypeScript source through tsx (a devDependency) instead.
import { distIsFresh } from '../scripts/build.mjs';

export async function runProgram(module) {
  if (distIsFresh()) return import(new URL(`../dist/${module}.js`, import.meta.url).href);
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error('meshcp: dist/ is missing or older than src/, and tsx is not installed: run "npm run build" first');
    process.exit(1);
  }
  register();
  return import(new URL(`../src/${module}.ts`, import.meta.url).href);
}
