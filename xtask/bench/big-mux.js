// Scenario g: Pipy's plain HTTP/1 proxy (its test/benchmark/003-http-mux shape), for one big
// download at a time: what matters is that the body streams, not the per-request cost.
pipy.listen(`127.0.0.1:${os.env.PORT}`, $=>$
  .demuxHTTP().to($=>$
    .muxHTTP().to($=>$
      .connect(os.env.UPSTREAM)
    )
  )
)
