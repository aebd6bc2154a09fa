// Scenario b: bytes relayed to the upstream, no HTTP parsing.
pipy.listen(`127.0.0.1:${os.env.PORT}`, $=>$
  .connect(os.env.UPSTREAM)
)
