//! The `crypto` namespace run by a script against the openssl command: signatures, digests,
//! ciphers and JWTs made by one are checked by the other, and a JWT-guarded HTTP service.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use weir_tests::{TempDir, Weir, curl, free_port};

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn base64url(bytes: &[u8]) -> String {
    let b64 = String::from_utf8(openssl(&["base64", "-A"], bytes)).unwrap();
    b64.trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// An ECDSA DER signature as JWS wants it: r and s, each `width` bytes.
fn der_to_fixed(der: &[u8], width: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = &der[2..];
    for _ in 0..2 {
        let len = rest[1] as usize;
        let n = &rest[2..2 + len];
        let n = &n[n.len().saturating_sub(width)..];
        out.extend(std::iter::repeat_n(0, width - n.len()));
        out.extend_from_slice(n);
        rest = &rest[2 + len..];
    }
    out
}

/// Keys of every kind, their public halves and a certificate, made by openssl in `dir`.
fn make_keys(dir: &Path) {
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", &p("rsa.pem")], b"");
    openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", &p("p256.pem")], b"");
    // The traditional SEC1 form, as `openssl ecparam -genkey` writes it.
    openssl(&["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", &p("p384.pem")], b"");
    openssl(&["genpkey", "-algorithm", "ED25519", "-out", &p("ed.pem")], b"");
    for k in ["rsa", "p256", "p384", "ed"] {
        openssl(&["pkey", "-in", &p(&format!("{k}.pem")), "-pubout", "-out", &p(&format!("{k}.pub.pem"))], b"");
    }
    let subj = ["-subj", "/C=CN/O=Weir/CN=weir.test", "-addext", "subjectAltName=DNS:a.weir.test,DNS:b.weir.test"];
    openssl(
        &[&["req", "-x509", "-days", "5", "-key", &p("p256.pem"), "-out", &p("cert.pem")][..], &subj].concat(),
        b"",
    );
}

const SIGNING: &str = r#"
var dir = '$DIR/'
var rd = f => os.readFile(dir + f)
var message = 'hello weir'
;[['rsa', 'sha256'], ['p256', 'sha256'], ['p384', 'sha384'], ['ed', 'sha512']].forEach(([k, d]) => {
  var pub = new crypto.PublicKey(rd(k + '.pub.pem'))
  var v = new crypto.Verify(d)
  v.update('hello ')
  v.update(new Data('weir'))
  var theirs = v.verify(pub, rd(k + '.sig'))
  v = new crypto.Verify(d)
  v.update('hello Weir')
  var altered = v.verify(pub, rd(k + '.sig'))
  var s = new crypto.Sign(d)
  s.update(message)
  var key = new crypto.PrivateKey(rd(k + '.pem'))
  var same = new crypto.PublicKey(key).toPEM().toString() == rd(k + '.pub.pem').toString()
  println('verify', k, theirs, altered, same, s.sign(key, 'base64'))
})
var h = new crypto.Hash('SHA256')
h.update('ab')
h.update('63', 'hex')
println('sha256', h.digest('hex'))
h = new crypto.Hash('md5')
h.update(message)
println('md5', h.digest().toString('hex'))
var m = new crypto.Hmac('sha384', 'secret')
m.update(message)
println('hmac', m.digest('base64'))
var key = new Data('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex')
var iv = new Data('0f0e0d0c0b0a09080706050403020100', 'hex')
var c = new crypto.Cipher('aes-256-cbc', { key, iv })
var out = new Data
out.push(c.update('a message longer than one block, '))
out.push(c.update('in two pieces'))
out.push(c.final())
println('cipher', out.toString('hex'))
var d = new crypto.Decipher('aes-256-cbc', { key, iv })
var back = new Data
back.push(d.update(rd('theirs.enc')))
back.push(d.final())
println('decipher', back.toString())
var cert = new crypto.Certificate(rd('cert.pem'))
println('cert', JSON.stringify(cert.subject), cert.subjectAltNames.join(), (cert.notAfter - cert.notBefore) / 86400000)
var jwt = new crypto.JWT(rd('hs256.jwt').toString())
println('hs256', jwt.isValid, jwt.payload.sub, jwt.verify('secret'), jwt.verify('other'))
jwt = new crypto.JWT(rd('rs256.jwt').toString())
println('rs256', jwt.isValid, jwt.verify(new crypto.PublicKey(rd('rsa.pub.pem'))), jwt.verify(rd('rsa.pem')))
jwt = new crypto.JWT(rd('es256.jwt').toString())
println('es256', jwt.isValid, jwt.verify(new crypto.PublicKey(rd('p256.pub.pem'))), jwt.verify(new crypto.JWK(JSON.decode(rd('p256.jwk')))))
println('broken', new crypto.JWT('a.b').isValid, new crypto.JWT('a.b.c').verify('secret'))
var b64 = s => new Data(s).toString('base64url')
var unsigned = b64(JSON.stringify({ alg: 'RS256' })) + '.' + b64(JSON.stringify({ sub: 'weir' }))
s = new crypto.Sign('sha256')
s.update(unsigned)
println('made', unsigned + '.' + s.sign(new crypto.PrivateKey(rd('rsa.pem')), 'base64url'))
pipy.exit(0)
"#;

/// The JWTs of the script's input: HS256, RS256 and ES256, signed by openssl.
fn make_jwts(dir: &Path) {
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let unsigned = |alg: &str| {
        format!(
            "{}.{}",
            base64url(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes()),
            base64url(br#"{"sub":"weir"}"#)
        )
    };
    let hs = unsigned("HS256");
    let mac = openssl(&["dgst", "-sha256", "-hmac", "secret", "-binary"], hs.as_bytes());
    std::fs::write(dir.join("hs256.jwt"), format!("{hs}.{}", base64url(&mac))).unwrap();
    let rs = unsigned("RS256");
    let sig = openssl(&["dgst", "-sha256", "-sign", &p("rsa.pem")], rs.as_bytes());
    std::fs::write(dir.join("rs256.jwt"), format!("{rs}.{}", base64url(&sig))).unwrap();
    let es = unsigned("ES256");
    let sig = openssl(&["dgst", "-sha256", "-sign", &p("p256.pem")], es.as_bytes());
    std::fs::write(dir.join("es256.jwt"), format!("{es}.{}", base64url(&der_to_fixed(&sig, 32)))).unwrap();
    // The JWK of the P-256 key: x and y of its uncompressed point (the last 65 bytes of the SPKI).
    let spki = openssl(&["pkey", "-in", &p("p256.pem"), "-pubout", "-outform", "DER"], b"");
    let point = &spki[spki.len() - 64..];
    let jwk =
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#, base64url(&point[..32]), base64url(&point[32..]));
    std::fs::write(dir.join("p256.jwk"), jwk).unwrap();
}

fn line<'a>(lines: &'a [String], tag: &str) -> Vec<&'a str> {
    let l = lines.iter().find(|l| l.starts_with(&format!("{tag} "))).unwrap_or_else(|| panic!("no {tag}: {lines:?}"));
    l.split(' ').skip(1).collect()
}

#[test]
fn signatures_digests_ciphers_and_jwts_agree_with_openssl() {
    let dir = TempDir::new();
    let p = |f: &str| dir.0.join(f).to_str().unwrap().to_string();
    make_keys(&dir.0);
    make_jwts(&dir.0);
    std::fs::write(dir.0.join("msg"), "hello weir").unwrap();
    for (k, d) in [("rsa", "-sha256"), ("p256", "-sha256"), ("p384", "-sha384")] {
        openssl(&["dgst", d, "-sign", &p(&format!("{k}.pem")), "-out", &p(&format!("{k}.sig")), &p("msg")], b"");
    }
    openssl(&["pkeyutl", "-sign", "-rawin", "-inkey", &p("ed.pem"), "-in", &p("msg"), "-out", &p("ed.sig")], b"");
    let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let iv = "0f0e0d0c0b0a09080706050403020100";
    let theirs = openssl(&["enc", "-aes-256-cbc", "-K", key, "-iv", iv], b"deciphered by weir, padded by openssl");
    std::fs::write(dir.0.join("theirs.enc"), theirs).unwrap();

    let mut weir = Weir::start(&SIGNING.replace("$DIR", dir.0.to_str().unwrap()), &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(20)), Some(0), "stderr: {:?}", weir.stderr());
    let out = weir.stdout();

    for k in ["rsa", "p256", "p384", "ed"] {
        let v = out.iter().find(|l| l.starts_with(&format!("verify {k} "))).unwrap_or_else(|| panic!("{k}: {out:?}"));
        let f: Vec<&str> = v.split(' ').collect();
        assert_eq!(f[2..5], ["true", "false", "true"], "{k}: openssl's signature, an altered message, the public half");
        let sig = openssl(&["base64", "-d", "-A"], f[5].as_bytes());
        std::fs::write(dir.0.join("weir.sig"), sig).unwrap();
        let pubkey = p(&format!("{k}.pub.pem"));
        let check = if k == "ed" {
            Command::new("openssl")
                .args(["pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", &pubkey, "-in", &p("msg"), "-sigfile"])
                .arg(p("weir.sig"))
                .output()
        } else {
            let d = if k == "p384" { "-sha384" } else { "-sha256" };
            Command::new("openssl")
                .args(["dgst", d, "-verify", &pubkey, "-signature", &p("weir.sig"), &p("msg")])
                .output()
        };
        let check = check.unwrap();
        assert!(
            check.status.success(),
            "openssl rejects weir's {k} signature: {}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    let hex = |b: Vec<u8>| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(line(&out, "sha256"), [hex(openssl(&["dgst", "-sha256", "-binary"], b"abc"))]);
    assert_eq!(line(&out, "md5"), [hex(openssl(&["dgst", "-md5", "-binary"], b"hello weir"))]);
    let mac = openssl(&["dgst", "-sha384", "-hmac", "secret", "-binary"], b"hello weir");
    assert_eq!(line(&out, "hmac"), [String::from_utf8(openssl(&["base64", "-A"], &mac)).unwrap()]);
    let plain = b"a message longer than one block, in two pieces";
    assert_eq!(line(&out, "cipher"), [hex(openssl(&["enc", "-aes-256-cbc", "-K", key, "-iv", iv], plain))]);
    assert_eq!(line(&out, "decipher").join(" "), "deciphered by weir, padded by openssl");
    let subject = r#"{"countryName":"CN","organizationName":"Weir","commonName":"weir.test"}"#;
    assert_eq!(line(&out, "cert"), [subject, "a.weir.test,b.weir.test", "5"]);
    assert_eq!(line(&out, "hs256"), ["true", "weir", "true", "false"]);
    assert_eq!(line(&out, "rs256"), ["true", "true", "true"]);
    assert_eq!(line(&out, "es256"), ["true", "true", "true"]);
    assert_eq!(line(&out, "broken"), ["false", "false"]);

    // The RS256 JWT the script made, checked by openssl.
    let made = line(&out, "made")[0].to_string();
    let (unsigned, sig) = made.rsplit_once('.').unwrap();
    let sig = sig.replace('-', "+").replace('_', "/");
    let sig = format!("{sig}{}", "=".repeat((4 - sig.len() % 4) % 4));
    std::fs::write(dir.0.join("jwt.sig"), openssl(&["base64", "-d", "-A"], sig.as_bytes())).unwrap();
    std::fs::write(dir.0.join("jwt.in"), unsigned).unwrap();
    let pubkey = p("rsa.pub.pem");
    openssl(&["dgst", "-sha256", "-verify", &pubkey, "-signature", &p("jwt.sig"), &p("jwt.in")], b"");
}

#[test]
fn a_jwt_guarded_service_lets_in_only_tokens_its_key_signed() {
    let dir = TempDir::new();
    make_keys(&dir.0);
    make_jwts(&dir.0);
    let port = free_port();
    let script = format!(
        r#"var key = new crypto.PublicKey(os.readFile('{dir}/p256.pub.pem'))
pipy.listen({port}, $=>$.serveHTTP(req => {{
  var auth = req.head.headers.authorization || ''
  var jwt = new crypto.JWT(auth.replace('Bearer ', ''))
  return jwt.isValid && jwt.verify(key)
    ? new Message({{ status: 200 }}, 'hello ' + jwt.payload.sub)
    : new Message({{ status: 401 }}, 'no')
}}))
"#,
        dir = dir.0.display()
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{port}/");
    let token = |f: &str| std::fs::read_to_string(dir.0.join(f)).unwrap();
    let ask = |t: &str| {
        let (rc, body, _) = curl(&["-s", "-w", " %{http_code}", "-H", &format!("authorization: Bearer {t}"), &url]);
        assert_eq!(rc, 0);
        body
    };
    assert_eq!(ask(&token("es256.jwt")), "hello weir 200");
    let forged = token("es256.jwt").replace("eyJzdWIiOiJ3ZWlyIn0", &base64url(br#"{"sub":"root"}"#));
    assert_ne!(forged, token("es256.jwt"));
    assert_eq!(ask(&forged), "no 401");
    assert_eq!(ask(&token("rs256.jwt")), "no 401", "another key's token");
    assert_eq!(ask("not-a-token"), "no 401");
}
