#!/usr/bin/env node
// meshcp: the control plane (src/main.ts, see bin/entry.js). `meshcp` runs it; `meshcp migrate up` migrates its store.
import { runProgram } from './entry.js';

await runProgram('main');
