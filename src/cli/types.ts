/** The documents meshctl reads from the control plane: the contract's (src/contract) and the resources it edits. */

export type {
  BackendStatus,
  DataplaneCertificateFacts,
  DataplaneOverview,
  NextStep,
  RotationStatus,
} from '../client/types.js';

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
