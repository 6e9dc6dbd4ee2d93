/**
 * The layers of meshcp, lowest first; imports point down only (see README, "Architecture"). `npm test` runs this.
 *
 *   domain     src/domain (clock, principal, errors), src/version.ts   imports nothing of ours
 *   x509       src/x509 (DER, PEM, X.509, CSR, certificate facts; node:crypto only)  -> domain
 *   resources  src/resources                                 -> x509, domain
 *   store      src/store                                     -> resources, x509, domain
 *   ca         src/ca (backends, CA manager, signing pool)   -> store, resources, x509, domain
 *   services   src/resource-manager, src/dataplanes, src/mesh, src/secrets, src/rotation, src/ops, src/identity,
 *              src/mesh-events.ts, src/fleet-turns.ts, src/config.ts,
 *              src/services.ts                               -> ca, store, resources, x509, domain
 *   api        src/api, src/app.ts                           -> services and below
 *   contract   src/contract (zod schemas of the API's answers)  -> domain
 *   client     src/client (HTTP client of meshctl and meshcp-dp)  -> contract, domain
 *   cli, agent src/cli, src/agent                            -> client, resources, x509, domain
 */
const DOMAIN = '^src/(domain/|version\\.ts$)';
const SERVICES = '^src/(dataplanes|mesh|secrets|rotation|resource-manager|ops|identity)/|^src/(mesh-events|fleet-turns|config|services)\\.ts$';
const API = '^src/api/|^src/app\\.ts$';
const TOP = '^src/(main|bootstrap|data-dir-lock)\\.ts$';
const CLIENT_SIDE = '^src/(client|cli|agent)/';
/** Every layer above; a file of src/ outside all of them is an error (a new folder needs a rule). */
const LAYERED = [DOMAIN, '^src/(x509|resources|store|ca|contract)/', SERVICES, API, TOP, CLIENT_SIDE].join('|');

module.exports = {
  forbidden: [
    {
      name: 'every-file-in-a-layer',
      comment: 'A folder or top-level file of src/ that no layer names: give it one in this file (and the README).',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERED },
      to: {},
    },
    {
      name: 'domain-imports-nothing-of-ours',
      comment: 'The domain (clock, principal, errors) is the bottom layer.',
      severity: 'error',
      from: { path: DOMAIN },
      to: { path: '^src/', pathNot: DOMAIN },
    },
    {
      name: 'x509-only-on-domain',
      comment: 'The certificate codec is shared by the CA and the agent: it can depend on neither.',
      severity: 'error',
      from: { path: '^src/x509/' },
      to: { path: '^src/', pathNot: `${DOMAIN}|^src/x509/` },
    },
    {
      name: 'resources-only-on-domain',
      severity: 'error',
      from: { path: '^src/resources/' },
      to: { path: '^src/', pathNot: `${DOMAIN}|^src/(resources|x509)/` },
    },
    {
      name: 'store-below-services',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/', pathNot: `${DOMAIN}|^src/(resources|store|x509)/` },
    },
    {
      name: 'ca-below-services',
      severity: 'error',
      from: { path: '^src/ca/' },
      to: { path: '^src/', pathNot: `${DOMAIN}|^src/(resources|store|ca|x509)/` },
    },
    {
      name: 'services-below-api',
      comment: 'Services know nothing of HTTP routes, the CLI, the agent or the client.',
      severity: 'error',
      from: { path: SERVICES },
      to: { path: `${API}|${TOP}|${CLIENT_SIDE}` },
    },
    {
      name: 'api-not-client-side',
      severity: 'error',
      from: { path: API },
      to: { path: `${TOP}|${CLIENT_SIDE}` },
    },
    {
      name: 'contract-only-on-domain',
      comment: 'The API contract is shared by server, CLI and agent: it can depend on none of them.',
      severity: 'error',
      from: { path: '^src/contract/' },
      to: { path: '^src/', pathNot: `${DOMAIN}|^src/contract/` },
    },
    {
      name: 'client-on-contract',
      comment: 'The shared HTTP client of meshctl and meshcp-dp.',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: `${DOMAIN}|^src/(client|contract)/` },
    },
    {
      name: 'cli-on-client',
      comment: 'meshctl talks to the control plane only over HTTP, through src/client.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: `${DOMAIN}|^src/(client|cli|resources|x509)/` },
    },
    {
      name: 'agent-on-client',
      comment: 'meshcp-dp talks to the control plane only through src/client; it builds CSRs with the x509 codec.',
      severity: 'error',
      from: { path: '^src/agent/' },
      to: { path: '^src/', pathNot: `${DOMAIN}|^src/(client|agent|resources|x509)/` },
    },
    {
      name: 'no-cycles',
      comment: 'No import cycle, not even between two files of one folder: one of the two belongs below the other.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.mjs$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
