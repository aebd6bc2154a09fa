// Scenario t: the hello of scenario a behind acceptTLS, with the certificate and key the
// bench made (TLS_CERT, TLS_KEY).
var certificate = {
  cert: new crypto.Certificate(os.readFile(os.env.TLS_CERT)),
  key: new crypto.PrivateKey(os.readFile(os.env.TLS_KEY)),
}

pipy.listen(`127.0.0.1:${os.env.PORT}`, $=>$
  .acceptTLS({ certificate }).to($=>$
    .serveHTTP(new Message('hello\n'))
  )
)
