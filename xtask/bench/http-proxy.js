// Scenario c: HTTP/1 decoded and encoded again on both legs, one upstream connection per
// client connection (kept alive as long as the client's).
pipy.listen(`127.0.0.1:${os.env.PORT}`, $=>$
  .decodeHTTPRequest()
  .encodeHTTPRequest()
  .connect(os.env.UPSTREAM)
  .decodeHTTPResponse()
  .encodeHTTPResponse()
)
