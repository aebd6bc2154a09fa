// A SOCKS proxy, an HTTP CONNECT proxy and a gzip front for one web server.
//
//   weir samples/tunnels/main.js
//   curl --socks5-hostname localhost:1080 http://example.com/
//   curl -p -x http://localhost:3128 http://example.com/
//   curl --compressed http://localhost:8081/     (the server at 127.0.0.1:8080, gzipped)

var $target

// SOCKS4, 4a and 5: any target but the SMTP port.
pipy.listen(1080, $=>$
  .acceptSOCKS(({ ip, domain, port }) => port !== 25 && ($target = `${domain || ip}:${port}`, true))
  .to($=>$.connect(() => $target))
)

// HTTP CONNECT: tunnels to port 443 and 80 only; other requests get a 405.
pipy.listen(3128, $=>$
  .acceptHTTPTunnel(req => {
    if (req.head.method !== 'CONNECT') return new Message({ status: 405 }, 'CONNECT only\n')
    if (!/:(443|80)$/.test(req.head.path)) return new Message({ status: 403 }, 'port not allowed\n')
    $target = req.head.path
  })
  .to($=>$.connect(() => $target))
)

// Responses compressed on the way out, streamed in 64 KiB chunks.
pipy.listen(8081, $=>$
  .demuxHTTP({ bufferSize: '64k' }).to($=>$
    .muxHTTP().to($=>$.connect('127.0.0.1:8080'))
    .compressHTTP('gzip')
  )
)
