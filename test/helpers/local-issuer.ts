// The set-up most HTTP suites share: an in-memory test issuer and a JwksProvider that trusts it.

import { JwksProvider } from '../../providers/jwks/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

/**
 * A test issuer at `issuer` that serves no port (its keys come through its own `fetch`), and a
 * JwksProvider for its tokens: its issuer, audience and key set. Close the issuer after the suite.
 */
export async function localIssuerAndProvider(
  issuer: string,
): Promise<{ idp: TestIssuer; provider: JwksProvider }> {
  const idp = await createTestIssuer({ listen: false, issuer })
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    fetch: idp.fetch,
  })
  return { idp, provider }
}
