//! One stream of the server side: its request's pipeline (or the request collected for a
//! `serveHTTP` handler), and its answer, written as frames within the client's windows.

use std::rc::Rc;

use boa_engine::JsValue;
use bytes::{Bytes, BytesMut};

use super::fields::Hpack;
use super::frame::{self, code};
use crate::codec::http1::{Header, RequestHead};
use crate::engine::{Event, Head, Pipeline, host};
use crate::filters::http_server::Answer;

pub struct Stream {
    pub id: u32,
    pub answer: Rc<Answer>,
    pub pipeline: Option<Pipeline>,
    /// The request, while it is collected for a `serveHTTP` handler.
    pub request: Option<(Rc<RequestHead>, BytesMut)>,
    /// A CONNECT's stream: raw bytes both ways after the heads (RFC 9113 8.5).
    pub tunnel: bool,
    /// The client may still send on it (not half-closed remote).
    pub recv_open: bool,
    /// What the client may still send before this side gives window back.
    pub recv_window: i64,
    /// Body bytes passed on whose window is not given back yet.
    pub pending: usize,
    /// Body bytes passed on while the upstream side was full: given back once it has room.
    pub held: usize,
    /// What this side may still send (the client's window for the stream).
    pub send_window: i64,
    head_sent: bool,
    /// The answer is out (END_STREAM or RST_STREAM sent): the stream goes.
    pub sent_end: bool,
    reset_sent: bool,
}

/// Where streams write their frames, and the connection's state they share.
pub struct Sink<'a> {
    pub buf: &'a mut BytesMut,
    pub hpack: &'a mut Hpack,
    /// The client's window for the connection.
    pub window: &'a mut i64,
    pub max_frame: usize,
    /// The client's side has room for more body bytes.
    pub room: bool,
    /// A body waits for room on the client's side (not for a window).
    pub blocked: bool,
}

impl Stream {
    pub fn new(id: u32, answer: Rc<Answer>, recv_open: bool, recv_window: i64, send_window: i64) -> Stream {
        Stream {
            id,
            answer,
            pipeline: None,
            request: None,
            tunnel: false,
            recv_open,
            recv_window,
            pending: 0,
            held: 0,
            send_window,
            head_sent: false,
            sent_end: false,
            reset_sent: false,
        }
    }

    /// Writes what the answer has that the windows let through.
    pub fn write(&mut self, o: &mut Sink<'_>) {
        while !self.sent_end {
            let Some(evt) = self.answer.events.borrow_mut().pop_front() else { return };
            match evt {
                Event::MessageStart(head) if !self.head_sent => self.write_head(&head, o),
                Event::Data(b) if self.head_sent => {
                    if let Some(rest) = self.write_data(b, o) {
                        self.answer.events.borrow_mut().push_front(Event::Data(rest));
                        return;
                    }
                }
                // Bytes before a head have nowhere to go.
                Event::Data(b) => self.answer.release(b.len()),
                Event::MessageEnd(_) if self.tunnel => {}
                Event::MessageEnd(tail) if self.head_sent => self.write_end(&host().trailers_of(&tail), o),
                Event::StreamEnd(None) if self.head_sent => self.write_end(&[], o),
                // Cut off before or in the middle of the answer: a shorter body must not
                // pass for a whole one.
                Event::StreamEnd(_) => self.reset(code::INTERNAL_ERROR, o.buf),
                _ => {}
            }
        }
    }

    /// Takes the answer's next event if it is an end without trailers.
    fn take_bare_end(&self) -> bool {
        let mut events = self.answer.events.borrow_mut();
        let bare = !self.tunnel && matches!(events.front(), Some(Event::MessageEnd(t)) if t.is_undefined());
        if bare {
            events.pop_front();
        }
        bare
    }

    fn write_head(&mut self, head: &Head, o: &mut Sink<'_>) {
        let head = host().response_head(head);
        if head.status < 200 {
            // Interim answers (100, 103 Early Hints) go on as HTTP/1 passes them; a 101 has
            // no meaning in HTTP/2 (RFC 9113 8.6).
            if head.status != 101 {
                o.hpack.response(&head);
                frame::put_headers(o.buf, self.id, &o.hpack.block, false, o.max_frame);
            }
            return;
        }
        let ends = self.take_bare_end();
        o.hpack.response(&head);
        frame::put_headers(o.buf, self.id, &o.hpack.block, ends, o.max_frame);
        self.head_sent = true;
        self.sent_end = ends;
    }

    /// Sends what the windows let of `b`; returns the rest.
    fn write_data(&mut self, mut b: Bytes, o: &mut Sink<'_>) -> Option<Bytes> {
        if b.is_empty() {
            return None;
        }
        let window = self.send_window.min(*o.window).max(0) as usize;
        let n = if o.room { b.len().min(window) } else { 0 };
        if n == 0 {
            o.blocked |= !o.room;
            return Some(b);
        }
        let rest = b.split_off(n);
        let ends = rest.is_empty() && self.take_bare_end();
        frame::put_data(o.buf, self.id, &b, ends, o.max_frame);
        self.send_window -= n as i64;
        *o.window -= n as i64;
        self.answer.release(n);
        self.sent_end = ends;
        (!rest.is_empty()).then_some(rest)
    }

    fn write_end(&mut self, trailers: &[Header], o: &mut Sink<'_>) {
        if trailers.is_empty() {
            frame::put_data(o.buf, self.id, &[], true, o.max_frame);
        } else {
            o.hpack.trailer_block(trailers);
            frame::put_headers(o.buf, self.id, &o.hpack.block, true, o.max_frame);
        }
        self.sent_end = true;
    }

    /// Resets the stream from this side.
    pub fn reset(&mut self, code: u32, buf: &mut BytesMut) {
        if !self.reset_sent {
            frame::put_rst(buf, self.id, code);
        }
        self.reset_sent = true;
        self.sent_end = true;
    }

    /// The answer is out while the client still sends: it is asked to stop (RFC 9113 8.1).
    pub fn close(&mut self, buf: &mut BytesMut) {
        if self.recv_open && !self.reset_sent {
            self.reset(code::NO_ERROR, buf);
        }
    }

    /// The client reset the stream, or the connection is gone: a request still coming in
    /// ends in an error.
    pub fn abort(&self) {
        if let (true, Some(p)) = (self.recv_open, &self.pipeline) {
            p.input(Event::error("ConnectionReset"));
        }
    }

    /// The request's end, with its trailers.
    pub fn end_request(&mut self, trailers: Option<Vec<Header>>) -> Option<(Rc<RequestHead>, Bytes)> {
        self.recv_open = false;
        if let Some(p) = &self.pipeline {
            let evt = match (self.tunnel, trailers) {
                (true, _) => Event::end(),
                (false, Some(t)) => Event::MessageEnd(host().tail_value(&t).unwrap_or_default()),
                (false, None) => Event::MessageEnd(JsValue::undefined()),
            };
            p.input(evt);
        }
        self.request.take().map(|(head, body)| (head, body.freeze()))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.answer.close();
    }
}
