// Scenario a (and f): a fixed response from the proxy itself, as nginx's `return 200`.
pipy.listen(`127.0.0.1:${os.env.PORT}`, $=>$
  .serveHTTP(new Message('hello\n'))
)
