// The `crypto` namespace: keys, certificates, digests, signatures, ciphers, JWK and JWT.
// Differences from Pipy: porting.md, "crypto".

/** Keys, certificates, digests, signatures, ciphers, JWK and JWT, as in Pipy. */
declare namespace crypto {
  /** A private key (RSA, ECDSA P-256/P-384, Ed25519) read from PEM: PKCS#8, `RSA PRIVATE KEY` or `EC PRIVATE KEY`. */
  class PrivateKey {
    /** PEM text, as a string or a Data. */
    constructor(pem: string | Data);
    /** The key as PEM, in the form it was read in. */
    toPEM(): Data;
  }

  /** An X.509 certificate read from PEM. */
  class Certificate {
    /** PEM text, as a string or a Data; the first certificate in it. */
    constructor(pem: string | Data);
    /** The certificate as PEM. */
    toPEM(): Data;
  }

  /** Every certificate in PEM text, leaf first (for a TLS filter's `cert`). */
  class CertificateChain {
    /** PEM text, as a string or a Data; anything between the certificates is skipped. */
    constructor(pem: string | Data);
  }
}
