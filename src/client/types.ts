/** The server's answers as meshctl and meshcp-dp read them: the contract's types, shared with the server. */
export type {
  BackendStatus,
  DataplaneCertificateFacts,
  DataplaneOverview,
  IssuedCertificate,
  NextStep,
  RotationStatus,
  TrustBundle,
} from '../contract/index.js';
