/** The documents meshctl reads from the control plane (see api.md and src/rotation/rotation-status.ts). */

export interface BackendStatus {
  name: string;
  type: string;
  enabled: boolean;
  rootFingerprint: string | null;
  notAfter: string | null;
  dataplanesIssued: number;
  dataplanesTrusting: number;
}

export interface NextStep {
  action: 'enable' | 'remove' | 'none';
  backend?: string;
  ready: boolean;
  description: string;
  waitingFor?: { count: number; names: string[] };
}

/** `GET /meshes/{mesh}/ca-rotation`. */
export interface RotationStatus {
  mesh: string;
  mtlsEnabled: boolean;
  enabledBackend: string | null;
  bundleVersion: string | null;
  activeDataplanes: number;
  backends: BackendStatus[];
  nextStep: NextStep;
  error?: string;
}

export interface MeshBackend {
  name: string;
  type: string;
  [key: string]: unknown;
}

/** A Mesh as the API renders it: flat, with server-set times. */
export interface MeshResource {
  type: 'Mesh';
  name: string;
  creationTime?: string;
  modificationTime?: string;
  labels?: Record<string, string>;
  mtls?: { enabledBackend?: string; backends?: MeshBackend[]; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ListBody<T> {
  total: number;
  items: T[];
  next: string | null;
}

/** One item of `/meshes/{mesh}/dataplanes/_overview`. */
export interface DataplaneOverview {
  type: 'DataplaneOverview';
  mesh: string;
  name: string;
  creationTime?: string;
  modificationTime?: string;
  dataplane: {
    networking?: {
      address?: string;
      inbound?: { port?: number; servicePort?: number; tags?: Record<string, string> }[];
      gateway?: { tags?: Record<string, string> };
    };
  };
  dataplaneInsight?: {
    mTLS?: {
      certificateExpirationTime?: string;
      lastCertificateRegeneration?: string;
      certificateRegenerations?: number;
      issuedBackend?: string;
      supportedBackends?: string[];
    };
  };
}
