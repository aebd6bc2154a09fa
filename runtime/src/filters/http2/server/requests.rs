//! The frames of a connection's requests: HEADERS, CONTINUATION and DATA, each stream's
//! request given to the responder and its body passed on as fast as it is taken.

use std::rc::Rc;

use boa_engine::JsValue;
use bytes::{Buf, Bytes, BytesMut};

use super::super::answer::Stream;
use super::super::fields::Request;
use super::super::frame::{self, Head, code};
use super::{Continuation, Http2Server, MAX_BLOCK, MAX_ERROR_RESETS, MAX_STREAMS, STREAM_WINDOW};
use crate::codec::http1::{Header, RequestHead, ResponseHead};
use crate::engine::{Event, Gauge, Given, Head as MessageHead, Pipeline};
use crate::filters::http_server::{Answer, Responder, respond};

impl Http2Server {
    pub(super) fn on_headers(&mut self, h: Head, payload: Bytes) -> Result<(), u32> {
        if h.stream == 0 || h.stream.is_multiple_of(2) {
            return Err(code::PROTOCOL_ERROR);
        }
        let mut block = frame::unpad(&h, payload).ok_or(code::PROTOCOL_ERROR)?;
        if h.has(frame::PRIORITY_FLAG) {
            if block.len() < 5 {
                return Err(code::FRAME_SIZE_ERROR);
            }
            block.advance(5);
        }
        if !h.has(frame::END_HEADERS) {
            let block = BytesMut::from(&block[..]);
            self.continuation = Some(Continuation { id: h.stream, end_stream: h.has(frame::END_STREAM), block });
            return Ok(());
        }
        self.on_block(h.stream, h.has(frame::END_STREAM), &block)
    }

    pub(super) fn on_continuation(&mut self, h: Head, payload: Bytes) -> Result<(), u32> {
        let Some(c) = self.continuation.as_mut() else { return Err(code::PROTOCOL_ERROR) };
        if c.block.len() + payload.len() > MAX_BLOCK {
            return Err(code::ENHANCE_YOUR_CALM);
        }
        c.block.extend_from_slice(&payload);
        if !h.has(frame::END_HEADERS) {
            return Ok(());
        }
        let Some(c) = self.continuation.take() else { return Ok(()) };
        self.on_block(c.id, c.end_stream, &c.block)
    }

    /// A whole header block: a new stream's request, or a request's trailers.
    fn on_block(&mut self, id: u32, end_stream: bool, block: &[u8]) -> Result<(), u32> {
        if let Some(i) = self.find(id) {
            return self.on_trailers(i, end_stream, block);
        }
        let request = self.hpack.request(block).map_err(|_| code::COMPRESSION_ERROR)?;
        if id <= self.last_id {
            // A stream this side closed already: only the table had to see the block.
            return Ok(());
        }
        self.last_id = id;
        if self.streams.len() >= MAX_STREAMS {
            frame::put_rst(&mut self.out, id, code::REFUSED_STREAM);
            return Ok(());
        }
        match request {
            Request::Head { head, connect } => self.open(id, head, connect, end_stream),
            Request::TooBig => {
                let head = ResponseHead { status: 431, ..ResponseHead::default() };
                self.hpack.response(&head);
                frame::put_headers(&mut self.out, id, &self.hpack.block, true, self.peer_max_frame);
                if !end_stream {
                    frame::put_rst(&mut self.out, id, code::NO_ERROR);
                }
            }
            Request::Malformed(e) => {
                tracing::debug!(target: "http", "HTTP/2 stream {id}: {e}");
                frame::put_rst(&mut self.out, id, code::PROTOCOL_ERROR);
                return self.count_error();
            }
        }
        Ok(())
    }

    fn count_error(&mut self) -> Result<(), u32> {
        self.errors += 1;
        if self.errors > MAX_ERROR_RESETS { Err(code::ENHANCE_YOUR_CALM) } else { Ok(()) }
    }

    /// Resets stream `i` for the client's error.
    pub(super) fn stream_error(&mut self, i: usize, code: u32) -> Result<(), u32> {
        let s = &mut self.streams[i];
        s.abort();
        s.recv_open = false;
        s.reset(code, &mut self.out);
        self.count_error()
    }

    fn on_trailers(&mut self, i: usize, end_stream: bool, block: &[u8]) -> Result<(), u32> {
        let trailers = self.hpack.trailers(block).map_err(|_| code::COMPRESSION_ERROR)?;
        if !self.streams[i].recv_open {
            return self.stream_error(i, code::STREAM_CLOSED);
        }
        let (Some(trailers), true) = (trailers, end_stream) else {
            return self.stream_error(i, code::PROTOCOL_ERROR);
        };
        self.end_request(i, Some(trailers));
        Ok(())
    }

    /// A new stream, its request given to the responder.
    fn open(&mut self, id: u32, head: RequestHead, connect: bool, end_stream: bool) {
        let env = &self.shared.env;
        let gauge = Rc::new(Gauge::child(env.context.downstream.clone()));
        let answer = Answer::new(&self.shared, gauge.clone());
        let mut s = Stream::new(id, answer.clone(), !end_stream, STREAM_WINDOW, self.peer_initial_window);
        let head = Rc::new(head);
        match &self.responder {
            Responder::Pipeline(layout) => {
                let context = env.context.copy_queued_on(gauge);
                let p = Pipeline::chained(layout.clone(), context, answer, env.chain.clone());
                p.start(&[]);
                p.input(Event::MessageStart(MessageHead::Request(head)));
                if connect || end_stream {
                    p.input(Event::MessageEnd(JsValue::undefined()));
                }
                if connect && end_stream {
                    p.input(Event::end());
                }
                s.tunnel = connect;
                s.pipeline = Some(p);
            }
            Responder::Script(_) if end_stream => respond(&self.responder, env, &answer, head, Bytes::new()),
            Responder::Script(_) => s.request = Some((head, BytesMut::new())),
        }
        self.streams.push(s);
    }

    /// The end of stream `i`'s request; a collected one goes to the handler.
    fn end_request(&mut self, i: usize, trailers: Option<Vec<Header>>) {
        let s = &mut self.streams[i];
        if let Some((head, body)) = s.end_request(trailers) {
            respond(&self.responder, &self.shared.env, &s.answer, head, body);
        }
    }

    pub(super) fn on_data(&mut self, h: Head, payload: Bytes) -> Result<(), u32> {
        if h.stream == 0 {
            return Err(code::PROTOCOL_ERROR);
        }
        self.recv_window -= h.len as i64;
        if self.recv_window < 0 {
            return Err(code::FLOW_CONTROL_ERROR);
        }
        let Some(i) = self.find(h.stream) else {
            // Nobody reads these: the connection's window is given back at once.
            self.pending += h.len;
            return if h.stream > self.last_id { Err(code::PROTOCOL_ERROR) } else { Ok(()) };
        };
        let s = &mut self.streams[i];
        s.recv_window -= h.len as i64;
        if !s.recv_open || s.recv_window < 0 {
            self.pending += h.len;
            let code = if s.recv_open { code::FLOW_CONTROL_ERROR } else { code::STREAM_CLOSED };
            return self.stream_error(i, code);
        }
        let data = frame::unpad(&h, payload).ok_or(code::PROTOCOL_ERROR)?;
        // Padding is read here and now.
        self.consumed(i, h.len - data.len());
        self.pass_body(i, data)?;
        if h.has(frame::END_STREAM) {
            self.end_request(i, None);
        }
        Ok(())
    }

    /// `n` bytes of stream `i` were read: their window may go back.
    fn consumed(&mut self, i: usize, n: usize) {
        self.streams[i].pending += n;
        self.pending += n;
    }

    /// Body bytes for stream `i`'s pipeline or collected request.
    fn pass_body(&mut self, i: usize, data: Bytes) -> Result<(), u32> {
        let n = data.len();
        let s = &mut self.streams[i];
        let collected = match (&s.pipeline, &mut s.request) {
            (Some(p), _) => {
                p.input(Event::Data(data));
                // Only as fast as the upstream side takes them.
                if self.shared.env.context.upstream.full() {
                    s.held += n;
                    return Ok(());
                }
                true
            }
            // A fixed answer needs no body: it is read and dropped.
            (None, Some(_)) if matches!(self.responder, Responder::Script(Given::Fixed(_))) => true,
            (None, Some((_, body))) if body.len() + n > self.limit => false,
            (None, Some((_, body))) => {
                body.extend_from_slice(&data);
                true
            }
            (None, None) => true,
        };
        self.consumed(i, n);
        if !collected {
            let limit = self.limit;
            tracing::error!(target: "http", "serveHTTP: request body over the limit of {limit} bytes (bufferLimit): stream refused");
            refuse(&mut self.streams[i], &mut self.out);
        }
        Ok(())
    }
}

/// Refuses stream `s` (its request is over the limit).
fn refuse(s: &mut Stream, out: &mut BytesMut) {
    s.recv_open = false;
    s.request = None;
    s.reset(code::REFUSED_STREAM, out);
}
