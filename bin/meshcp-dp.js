#!/usr/bin/env node
// Runs src/agent/meshcp-dp.ts through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/agent/meshcp-dp.ts');
