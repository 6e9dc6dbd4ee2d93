#!/usr/bin/env node
// Runs src/cli/meshctl.ts through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/meshctl.ts');
