import type { X509Certificate } from 'node:crypto';

/*
 * What a Vault-signed dataplane certificate may name besides the URI SANs meshcp asked for: nothing. A Vault role's
 * defaults (`use_csr_common_name`, `use_csr_sans`) copy the CSR's subject and SANs, so a dataplane could otherwise
 * choose its own DNS names, IPs or e-mail addresses. Pure: the caller decides what to do with the reason.
 */

/** The identity meshcp asks Vault for: `sign/<role>` and `issue/<role>` parameters that leave nothing to the CSR. */
export function vaultIdentityParams(
  commonName: string | undefined,
  uris: readonly string[],
): Record<string, string | boolean> {
  return {
    ...(commonName !== undefined ? { common_name: commonName } : {}),
    alt_names: '',
    ip_sans: '',
    other_sans: '',
    uri_sans: uris.join(','),
    exclude_cn_from_sans: true,
  };
}

/** Why `cert` carries a name meshcp did not ask for (undefined when it carries none). */
export function unrequestedIdentity(cert: X509Certificate, commonName: string | undefined): string | undefined {
  const names = (cert.subjectAltName ?? '').split(', ').filter((n) => n !== '');
  const foreign = names.filter((n) => !n.startsWith('URI:'));
  if (foreign.length > 0) {
    return `it carries subject alternative names meshcp did not ask for (${foreign.slice(0, 5).join(', ')}); set the role's use_csr_sans to false`;
  }
  const subject = (cert.subject ?? '').trim();
  const wanted = commonName === undefined ? '' : `CN=${commonName}`;
  if (subject !== '' && subject !== wanted) {
    return `its subject is "${subject.replace(/\n/g, ', ')}", not ${wanted === '' ? 'empty' : `"${wanted}"`}; set the role's use_csr_common_name to false`;
  }
  return undefined;
}
