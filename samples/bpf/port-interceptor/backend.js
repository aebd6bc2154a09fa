#!/usr/bin/env weir

// Something to intercept: a backend on BACKEND (default 8000) answering `hi`, and on PROXY
// (default 9000) a proxy to it that adds `server: Weir interceptor` to every response. With
// main.js running, a client on another host asking port 8000 gets the proxy's answer.

var BACKEND = Number.parseInt(os.env.BACKEND || '8000')
var PROXY = Number.parseInt(os.env.PROXY || '9000')

pipy.listen(BACKEND, $=>$.serveHTTP(new Message('hi\n')))

pipy.listen(PROXY, $=>$
  .demuxHTTP().to($=>$
    .muxHTTP().to($=>$.connect(`127.0.0.1:${BACKEND}`))
    .handleMessageStart(msg => { msg.head.headers['server'] = 'Weir interceptor' })
  )
)
