//! The HTTP/2 server side of `demuxHTTP` and `serveHTTP` (prior knowledge, h2c): the `h2`
//! crate does the framing, HPACK, flow control and the limits; each stream becomes one
//! request Message for the same responders as HTTP/1, and its answer goes back on the stream.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;

use boa_engine::JsValue;
use bytes::{Bytes, BytesMut};
use futures_concurrency::future::FutureGroup;
use futures_core::Stream;
use h2::server::SendResponse;
use h2::{Reason, RecvStream};

use super::convert;
use super::pipe::{self, Io, Pipe};
use super::stream::{Queue, write_body};
use crate::codec::http1::{Header, ResponseHead};
use crate::engine::{Event, FilterEnv, Gauge, Given, Head, Layout, Output, Pipeline, host};
use crate::filters::http_server::{Responder, respond};

/// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
const MAX_STREAMS: u32 = 128;
/// The most bytes of request header fields, decoded (SETTINGS_MAX_HEADER_LIST_SIZE); also
/// what bounds a CONTINUATION run, which `h2` stops once it is over.
const MAX_HEADER_LIST: u32 = 64 << 10;
/// Each stream's receive window: a client sends no more body ahead of what was passed on.
const STREAM_WINDOW: u32 = 256 << 10;
/// Streams the client may open and reset before they are accepted (rapid reset): over
/// it, `h2` ends the connection with ENHANCE_YOUR_CALM.
const MAX_PENDING_RESETS: usize = 20;
/// Streams this side may reset for the client's errors before it ends the connection.
const MAX_ERROR_RESETS: usize = 256;

/// One connection's HTTP/2 server, fed the connection's events.
pub struct Http2Server {
    pipe: Rc<Pipe>,
    task: tokio::task::AbortHandle,
    ended: bool,
}

struct Server {
    responder: Responder,
    env: FilterEnv,
    limit: usize,
}

impl Http2Server {
    /// Starts serving with `first`, the bytes read so far (the preface and what followed).
    pub fn start(responder: Responder, env: FilterEnv, limit: usize, first: &[u8]) -> Http2Server {
        let waker = env.clone();
        let pipe = Pipe::new(env.context.downstream.clone(), Box::new(move || waker.wake()));
        pipe.push(first);
        let server = Rc::new(Server { responder, env, limit });
        let task = pipe::spawn(&pipe, run(pipe.clone(), server));
        Http2Server { pipe, task, ended: false }
    }

    pub fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(b) => self.pipe.push(&b),
            Event::StreamEnd(_) => self.pipe.end(None),
            _ => {}
        }
        self.flush(out);
    }

    /// Emits what `h2` wrote, and the end once it is done with the connection.
    pub fn flush(&mut self, out: &mut Output<'_>) {
        if let Some(b) = self.pipe.take() {
            out.emit(Event::Data(b));
        }
        if self.pipe.is_done() && !self.ended {
            self.ended = true;
            out.emit(Event::end());
        }
    }
}

impl Drop for Http2Server {
    fn drop(&mut self) {
        // The connection's task owns the streams' tasks: all of them stop here.
        self.task.abort();
    }
}

fn builder() -> h2::server::Builder {
    let mut b = h2::server::Builder::new();
    b.max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(Gauge::LIMIT as u32)
        .max_send_buffer_size(STREAM_WINDOW as usize)
        .max_pending_accept_reset_streams(MAX_PENDING_RESETS)
        .max_local_error_reset_streams(Some(MAX_ERROR_RESETS));
    b
}

/// The streams still at work, each a future the connection's task polls (when woken for
/// it) beside `h2`'s connection: a spawned task per stream cost as much as `h2`'s own work
/// for a short request, and what a stream sends goes out in the same poll.
type Streams = FutureGroup<Pin<Box<dyn Future<Output = ()>>>>;

async fn run(pipe: Rc<Pipe>, server: Rc<Server>) {
    let mut streams = Streams::new();
    match builder().handshake::<_, Bytes>(Io(pipe.clone())).await {
        Ok(mut conn) => loop {
            tokio::select! {
                next = conn.accept() => match next {
                    Some(Ok((req, respond))) => accept(req, respond, &server, &mut streams),
                    Some(Err(e)) => {
                        tracing::debug!(target: "http", "HTTP/2: {e}");
                        break;
                    }
                    None => break,
                },
                Some(()) = poll_fn(|cx| Pin::new(&mut streams).poll_next(cx)), if !streams.is_empty() => {}
            }
        },
        Err(e) => tracing::debug!(target: "http", "HTTP/2 handshake: {e}"),
    }
    pipe.finish();
}

/// Answers at most this many body bytes without the peer's window: `h2` buffers them.
const WHOLE_BODY: usize = 16 << 10;

/// A new stream. A whole request (no body to come: the usual GET) is answered at once, and
/// when its answer is whole and small too (a fixed Message, a handler's synchronous answer)
/// it goes to `h2` here; anything else joins the `streams` at work.
fn accept(req: http::Request<RecvStream>, mut stream: SendResponse<Bytes>, server: &Rc<Server>, streams: &mut Streams) {
    if req.method() == http::Method::CONNECT || !req.body().is_end_stream() {
        streams.insert(Box::pin(serve(req, stream, server.clone())));
        return;
    }
    let head = Rc::new(convert::request_head(&req.into_parts().0));
    let answer = answer_queue(server);
    let pipeline = match &server.responder {
        Responder::Pipeline(layout) => {
            let p = request_pipeline(server, layout, &answer);
            p.input(Event::MessageStart(Head::Request(head)));
            p.input(Event::MessageEnd(JsValue::undefined()));
            Some(p)
        }
        Responder::Script(_) => {
            respond(&server.responder, &server.env, &answer, head, Bytes::new());
            None
        }
    };
    if let Some((head, body, trailers)) = answer.take_whole(WHOLE_BODY) {
        return send_whole(&mut stream, &head, body, &trailers);
    }
    // An answer that comes later (through a muxHTTP) mostly comes whole too: all its events
    // are queued by the time this stream is polled, and then go as one HEADERS and one
    // DATA frame that ends the stream.
    streams.insert(Box::pin(async move {
        let _pipeline = pipeline;
        if !answer.wait(|cx| stream.poll_reset(cx)).await {
            return;
        }
        match answer.take_whole(WHOLE_BODY) {
            Some((head, body, trailers)) => send_whole(&mut stream, &head, body, &trailers),
            None => write_answer(&answer, &mut stream, false).await,
        }
    }));
}

/// Sends a whole answer taken from its queue.
fn send_whole(stream: &mut SendResponse<Bytes>, head: &ResponseHead, body: Bytes, trailers: &[Header]) {
    let ends = body.is_empty() && trailers.is_empty();
    let sent = stream.send_response(convert::response(head), ends).and_then(|mut send| match (ends, trailers) {
        (true, _) => Ok(()),
        (false, []) => send.send_data(body, true),
        (false, t) => {
            if !body.is_empty() {
                send.send_data(body, false)?;
            }
            send.send_trailers(convert::header_map(t))
        }
    });
    if let Err(e) = sent {
        tracing::debug!(target: "http", "HTTP/2 response: {e}");
    }
}

/// One stream: its request goes to the responder, its answer back to the client.
/// Where a stream's answer queues: on a gauge of its own under the connection's, so that an
/// answer nobody reads pauses only its own stream's source.
fn answer_queue(server: &Server) -> Rc<Queue> {
    Rc::new(Queue::new(Rc::new(Gauge::child(server.env.context.downstream.clone()))))
}

/// A stream's request pipeline, started, its output going to `answer`.
fn request_pipeline(server: &Server, layout: &Rc<Layout>, answer: &Rc<Queue>) -> Pipeline {
    let context = server.env.context.copy_queued_on(answer.gauge());
    let p = Pipeline::chained(layout.clone(), context, answer.clone(), server.env.chain.clone());
    p.start(&[]);
    p
}

async fn serve(req: http::Request<RecvStream>, mut stream: SendResponse<Bytes>, server: Rc<Server>) {
    let (parts, body) = req.into_parts();
    let head = Rc::new(convert::request_head(&parts));
    // A CONNECT's stream carries a tunnel (RFC 9113 8.5): raw bytes both ways after heads.
    let tunnel = parts.method == http::Method::CONNECT;
    let context = &server.env.context;
    let answer = answer_queue(&server);
    match &server.responder {
        Responder::Pipeline(layout) => {
            let p = request_pipeline(&server, layout, &answer);
            p.input(Event::MessageStart(Head::Request(head)));
            if tunnel {
                p.input(Event::MessageEnd(JsValue::undefined()));
            }
            let read = read_body(body, &p, &context.upstream, tunnel);
            // The answer may end before the request does: then the rest is not read.
            tokio::select! {
                _ = write_answer(&answer, &mut stream, tunnel) => {}
                _ = async { read.await; std::future::pending::<()>().await } => {}
            }
        }
        Responder::Script(given) => {
            let Some(body) = collect(body, server.limit, matches!(given, Given::Fixed(_))).await else {
                return stream.send_reset(Reason::REFUSED_STREAM);
            };
            respond(&server.responder, &server.env, &answer, head, body);
            write_answer(&answer, &mut stream, false).await;
        }
    }
}

/// Passes a request body into its pipeline, releasing window only as the bytes move on,
/// so a client cannot send faster than the upstream takes them.
async fn read_body(mut body: RecvStream, p: &Pipeline, upstream: &Gauge, tunnel: bool) {
    while let Some(next) = body.data().await {
        match next {
            Ok(b) => {
                let n = b.len();
                p.input(Event::Data(b));
                upstream.room().await;
                let _ = body.flow_control().release_capacity(n);
            }
            Err(e) => {
                tracing::debug!(target: "http", "HTTP/2 request body: {e}");
                return p.input(Event::error("ConnectionReset"));
            }
        }
    }
    if tunnel {
        return p.input(Event::end());
    }
    match body.trailers().await {
        Ok(Some(t)) => {
            let trailers = convert::headers_of(&t, None);
            p.input(Event::MessageEnd(host().tail_value(&trailers).unwrap_or_default()));
        }
        Ok(None) => p.input(Event::MessageEnd(JsValue::undefined())),
        Err(_) => p.input(Event::error("ConnectionReset")),
    }
}

/// A request body for a `serveHTTP` handler, up to `limit` bytes (a fixed answer needs
/// none: it is read and dropped). `None` when it is over the limit or cut off.
async fn collect(mut body: RecvStream, limit: usize, drop: bool) -> Option<Bytes> {
    let mut all = BytesMut::new();
    while let Some(next) = body.data().await {
        let b = next.ok()?;
        let _ = body.flow_control().release_capacity(b.len());
        if drop {
            continue;
        }
        if all.len() + b.len() > limit {
            tracing::error!(target: "http", "serveHTTP: request body over the limit of {limit} bytes (bufferLimit): stream refused");
            return None;
        }
        all.extend_from_slice(&b);
    }
    Some(all.freeze())
}

/// Sends the answer's head, body and end on the stream.
async fn write_answer(answer: &Queue, stream: &mut SendResponse<Bytes>, tunnel: bool) {
    let head = loop {
        match answer.next(|cx| stream.poll_reset(cx)).await {
            Some(Event::MessageStart(head)) => {
                let head = host().response_head(&head);
                if head.status >= 200 {
                    break head;
                }
                // Interim answers (100, 103 Early Hints) go on as HTTP/1 passes them; a 101
                // has no meaning in HTTP/2 (RFC 9113 8.6).
                if head.status != 101
                    && let Err(e) = stream.send_informational(convert::response(&head))
                {
                    tracing::debug!(target: "http", "HTTP/2 interim response: {e}");
                }
            }
            Some(Event::StreamEnd(_)) => return stream.send_reset(Reason::INTERNAL_ERROR),
            Some(_) => {}
            None => return,
        }
    };
    let ends = !tunnel && matches!(answer.events.borrow().front(), Some(Event::MessageEnd(t)) if t.is_undefined());
    let mut send = match stream.send_response(convert::response(&head), ends) {
        Ok(s) => s,
        Err(e) => return tracing::debug!(target: "http", "HTTP/2 response: {e}"),
    };
    if ends {
        return;
    }
    if let Err(e) = write_body(answer, &mut send, tunnel).await {
        tracing::debug!(target: "http", "HTTP/2 response body: {e}");
    }
}
