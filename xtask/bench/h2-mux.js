// Scenario h2: HTTP/2 clients through demuxHTTP and muxHTTP to an HTTP/1 upstream.
pipy.listen(`127.0.0.1:${os.env.PORT}`, $=>$
  .demuxHTTP().to($=>$
    .muxHTTP().to($=>$
      .connect(os.env.UPSTREAM)
    )
  )
)
