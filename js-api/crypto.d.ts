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

  /** A public key (RSA, ECDSA P-256/P-384, Ed25519), for `Verify` and `JWT.verify`. */
  class PublicKey {
    /** `PUBLIC KEY` PEM text, as a string or a Data, or a private key whose public half is wanted. */
    constructor(pem: string | Data | PrivateKey);
    /** The key as `PUBLIC KEY` PEM. */
    toPEM(): Data;
  }

  /** An X.509 certificate read from PEM. */
  class Certificate {
    /** PEM text, as a string or a Data; the first certificate in it. */
    constructor(pem: string | Data);
    /** The certificate as PEM. */
    toPEM(): Data;
    /** The issuer's name: OpenSSL's long attribute names (`commonName`, ...) to values. */
    readonly issuer: Record<string, string>;
    /** The subject's name, as `issuer`. */
    readonly subject: Record<string, string>;
    /** The DNS names of the subjectAltName extension. */
    readonly subjectAltNames: string[];
    /** Start of validity, in milliseconds since 1970. */
    readonly notBefore: number;
    /** End of validity, in milliseconds since 1970. */
    readonly notAfter: number;
  }

  /** Every certificate in PEM text, leaf first (for a TLS filter's `cert`). */
  class CertificateChain {
    /** PEM text, as a string or a Data; anything between the certificates is skipped. */
    constructor(pem: string | Data);
  }

  /** Names of digests: `md5`, `sha1`, `sha224`, `sha256`, `sha384`, `sha512` (any case; `SHA-256` too). */
  type DigestName = string;

  /** Encodings of a digest or signature returned as a string. */
  type Encoding = 'hex' | 'base64' | 'base64url';

  /** AES ciphers by OpenSSL's names: `aes-{128,192,256}-{cbc,ecb,ctr}`. */
  interface CipherOptions {
    /** The key, exactly as long as the cipher's. */
    key: string | Data;
    /** The IV, 16 bytes (zeros when absent; none for ECB). */
    iv?: string | Data;
  }

  /** Enciphers, a piece at a time. */
  class Cipher {
    constructor(algorithm: string, options: CipherOptions);
    /** The enciphered bytes so far. */
    update(data: string | Data): Data;
    /** The rest (the padded last block for CBC and ECB). */
    final(): Data;
  }

  /** Deciphers, a piece at a time. */
  class Decipher {
    constructor(algorithm: string, options: CipherOptions);
    /** The deciphered bytes so far (CBC and ECB keep the last block for `final`). */
    update(data: string | Data): Data;
    /** The rest, unpadded; throws on a bad padding. */
    final(): Data;
  }

  /** A digest, fed a piece at a time. */
  class Hash {
    constructor(algorithm: DigestName);
    /** Adds bytes: a Data, or a string in `encoding` (UTF-8 when absent). */
    update(data: string | Data, encoding?: 'utf8' | Encoding): void;
    /** The digest, as a Data or as a string in `encoding`. */
    digest(): Data;
    digest(encoding: Encoding): string;
  }

  /** An HMAC, fed a piece at a time. */
  class Hmac {
    constructor(algorithm: DigestName, key: string | Data);
    /** Adds bytes: a Data, or a string in `encoding` (UTF-8 when absent). */
    update(data: string | Data, encoding?: 'utf8' | Encoding): void;
    /** The HMAC, as a Data or as a string in `encoding`. */
    digest(): Data;
    digest(encoding: Encoding): string;
  }

  /** Signs with RSA (PKCS#1 v1.5), ECDSA (DER signatures) or Ed25519 over the named digest. */
  class Sign {
    constructor(algorithm: DigestName);
    /** Adds bytes: a Data, or a string in `encoding` (UTF-8 when absent). */
    update(data: string | Data, encoding?: 'utf8' | Encoding): void;
    /** The signature, as a Data or as a string in `encoding`. */
    sign(key: PrivateKey, options?: { id?: Data }): Data;
    sign(key: PrivateKey, encoding: Encoding, options?: { id?: Data }): string;
  }

  /** Checks a signature `Sign` or `openssl dgst -sign` made. */
  class Verify {
    constructor(algorithm: DigestName);
    /** Adds bytes: a Data, or a string in `encoding` (UTF-8 when absent). */
    update(data: string | Data, encoding?: 'utf8' | Encoding): void;
    /** Whether the signature (a Data, or a string in `encoding`) is good. */
    verify(key: PublicKey, signature: Data, options?: { id?: Data }): boolean;
    verify(key: PublicKey, signature: string, encoding: Encoding, options?: { id?: Data }): boolean;
  }

  /** A public key from a JSON Web Key (`RSA`: `n`, `e`; `EC`: `crv` `P-256`/`P-384`, `x`, `y`). */
  class JWK {
    constructor(json: object);
    /** Always true: a JWK that cannot be read throws. */
    readonly isValid: boolean;
  }

  /** A JSON Web Token (`HS*`, `RS*`, `ES256`, `ES384`). */
  class JWT {
    /** Decodes a token; one that cannot be read is not valid. */
    constructor(token: string);
    /** Whether the token has three parts, JSON objects for header and payload, and a known `alg`. */
    readonly isValid: boolean;
    /** The header, decoded. */
    readonly header: any;
    /** The payload, decoded. */
    readonly payload: any;
    /** Whether the signature is good: a secret (`HS*`), a PEM key, a JWK or a PublicKey (`RS*`, `ES*`). */
    verify(key: string | Data | JWK | PublicKey): boolean;
  }
}
