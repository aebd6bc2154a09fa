// Scenario d (and f): Pipy's usual HTTP proxy, with one script callback per request that
// reads the path and one header.
var routed = 0

pipy.listen(`127.0.0.1:${os.env.PORT}`, $=>$
  .demuxHTTP().to($=>$
    .handleMessageStart(({ head }) => {
      if (head.path.length > 0 && head.headers.host) routed++
    })
    .muxHTTP().to($=>$
      .connect(os.env.UPSTREAM)
    )
  )
)
