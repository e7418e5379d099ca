// The package is "type": "module", so Node would read dist/cjs/*.js as ES modules:
// this nested package.json tells it they are CommonJS.
import fs from 'node:fs';

fs.writeFileSync(new URL('../dist/cjs/package.json', import.meta.url), '{"type":"commonjs"}\n');
