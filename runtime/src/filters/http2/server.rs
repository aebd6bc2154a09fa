//! The HTTP/2 server side of `demuxHTTP` and `serveHTTP` (prior knowledge, h2c, ALPN `h2`),
//! weir's own: frames are read from the connection's events and written into one buffer
//! emitted once per turn, each stream becomes one request Message for the same responders
//! as HTTP/1, and its answer goes back as frames within the client's windows.
//!
//! Written for speed: over the `h2` crate (a task on an in-memory duplex, its stream store
//! behind locks, a future per stream) an h2c `serveHTTP` hello cost 23.5k instructions per
//! request, twice Pipy's CPU; see docs/benchmarks.md, "HTTP/2". HPACK is `loona-hpack`'s.
//!
//! Limits: a client may have [`MAX_STREAMS`] streams open (more are refused), header
//! lists of [`MAX_HEADER_LIST`] (a longer CONTINUATION run ends the connection), and
//! resets of streams not answered yet only up to [`MAX_RESETS`] more than the streams
//! it let finish (rapid reset): over either, GOAWAY with ENHANCE_YOUR_CALM.

use std::cell::Cell;
use std::rc::Rc;

use bytes::{Buf, Bytes, BytesMut};

mod requests;

use super::answer::{Sink, Stream};
use super::fields::{Hpack, MAX_HEADER_LIST};
use super::frame::{self, Head, code, setting};
use crate::codec::h2c::PREFACE;
use crate::engine::{Event, FilterEnv, Gauge};
use crate::filters::http_server::{Responder, Shared};

/// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
const MAX_STREAMS: usize = 128;
/// Each stream's receive window: a client sends no more body ahead of what was passed on.
const STREAM_WINDOW: i64 = 256 << 10;
/// The connection's receive window: what all streams together may have in flight.
const CONN_WINDOW: i64 = Gauge::LIMIT as i64;
/// Streams the client may reset before their answer more than it let finish.
const MAX_RESETS: u32 = 100;
/// Streams this side may reset for the client's errors before it ends the connection.
const MAX_ERROR_RESETS: u32 = 256;
/// The most bytes of one header block, encoded: past it, a CONTINUATION flood.
const MAX_BLOCK: usize = 2 * MAX_HEADER_LIST;

/// A header block whose CONTINUATION frames are still coming.
struct Continuation {
    id: u32,
    end_stream: bool,
    block: BytesMut,
}

/// One connection's HTTP/2 server, fed the connection's events.
pub struct Http2Server {
    shared: Rc<Shared>,
    responder: Responder,
    limit: usize,
    /// Bytes received, not read as frames yet.
    rx: BytesMut,
    preface: bool,
    /// Frames to send, emitted as one `Data` at the end of each turn.
    out: BytesMut,
    hpack: Hpack,
    streams: Vec<Stream>,
    last_id: u32,
    continuation: Option<Continuation>,
    /// The client's window for the connection, and this side's for it.
    send_window: i64,
    recv_window: i64,
    /// Bytes received on the connection whose window is not given back yet.
    pending: usize,
    peer_initial_window: i64,
    peer_max_frame: usize,
    peer_table_size: u32,
    /// Resets of unanswered streams less the streams answered; errors this side reset.
    resets: u32,
    errors: u32,
    /// GOAWAY sent for an error: the connection ends once it is out.
    closing: bool,
    /// The client sent GOAWAY: the connection ends once its streams are done.
    client_goaway: bool,
    client_end: bool,
    ended: bool,
    /// Reading is paused until the client's side has room for what this side sends.
    holding: bool,
    /// A task waits for room on the client's (downstream) or the upstream side.
    waiting_down: Rc<Cell<bool>>,
    waiting_up: Rc<Cell<bool>>,
    /// A wake is on its way to finish what a nested wake could not.
    deferred: Rc<Cell<bool>>,
}

impl Http2Server {
    /// Starts serving with `first`, the bytes read so far (the preface and what followed).
    pub fn start(responder: Responder, env: FilterEnv, limit: usize, first: &[u8]) -> Http2Server {
        let mut s = Http2Server {
            shared: Shared::new(env),
            responder,
            limit,
            rx: BytesMut::from(first),
            preface: true,
            out: BytesMut::with_capacity(4096),
            hpack: Hpack::new(),
            streams: Vec::new(),
            last_id: 0,
            continuation: None,
            send_window: 65535,
            recv_window: CONN_WINDOW,
            pending: 0,
            peer_initial_window: 65535,
            peer_max_frame: frame::DEFAULT_MAX_FRAME,
            peer_table_size: 4096,
            resets: 0,
            errors: 0,
            closing: false,
            client_goaway: false,
            client_end: false,
            ended: false,
            holding: false,
            waiting_down: Rc::default(),
            waiting_up: Rc::default(),
            deferred: Rc::default(),
        };
        let settings = [
            (setting::MAX_CONCURRENT_STREAMS, MAX_STREAMS as u32),
            (setting::INITIAL_WINDOW_SIZE, STREAM_WINDOW as u32),
            (setting::MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST as u32),
        ];
        frame::put_settings(&mut s.out, &settings);
        frame::put_window_update(&mut s.out, 0, (CONN_WINDOW - 65535) as u32);
        s.shared.busy.set(true);
        s.read();
        s.shared.busy.set(false);
        s
    }

    pub fn process(&mut self, evt: Event, out: &mut crate::engine::Output<'_>) {
        if self.ended {
            return;
        }
        self.shared.busy.set(true);
        match evt {
            Event::Data(b) => {
                self.rx.extend_from_slice(&b);
                self.read();
            }
            Event::StreamEnd(_) => self.client_end = true,
            _ => {}
        }
        self.turn(out);
        self.shared.busy.set(false);
    }

    /// Sends what the streams have to send, and reads on where reading was paused.
    pub fn flush(&mut self, out: &mut crate::engine::Output<'_>) {
        if self.ended {
            return;
        }
        // An answer's event from inside a pipeline's processing (an upstream's response):
        // the turn is finished from a fresh task, where pipelines may be dropped, and what
        // all the answers of this round of I/O have goes out in one write.
        if self.shared.nested.get() {
            return self.defer();
        }
        let was_busy = self.shared.busy.replace(true);
        self.read();
        self.turn(out);
        self.shared.busy.set(was_busy);
    }

    /// The end of a turn: windows given back, answers written, the frames emitted.
    fn turn(&mut self, out: &mut crate::engine::Output<'_>) {
        self.deferred.set(false);
        self.release_windows();
        let blocked = self.write_answers();
        if self.closing || self.client_end || (self.client_goaway && self.streams.is_empty()) {
            self.ended = true;
            self.hold(false);
            self.streams.iter().for_each(Stream::abort);
            self.streams.clear();
        } else {
            self.remove_done();
        }
        if !self.out.is_empty() {
            out.emit(Event::Data(self.out.split().freeze()));
        }
        if self.ended {
            return out.emit(Event::end());
        }
        self.watch(blocked || self.holding);
    }

    /// Finishes the turn from a fresh task.
    fn defer(&self) {
        if !self.deferred.replace(true) {
            let env = self.shared.env.clone();
            tokio::task::spawn_local(async move { env.wake() });
        }
    }

    /// Wakes this side once the client's side has room (`down`), or the upstream side
    /// has room while request bodies wait for window.
    fn watch(&self, down: bool) {
        let context = &self.shared.env.context;
        let up = self.streams.iter().any(|s| s.held > 0);
        for (wanted, gauge, flag) in
            [(down, &context.downstream, &self.waiting_down), (up, &context.upstream, &self.waiting_up)]
        {
            if wanted && !flag.replace(true) {
                let (gauge, flag, env) = (gauge.clone(), flag.clone(), self.shared.env.clone());
                tokio::task::spawn_local(async move {
                    gauge.room().await;
                    flag.set(false);
                    env.wake();
                });
            }
        }
    }

    /// Pauses (or resumes) reading the client.
    fn hold(&mut self, on: bool) {
        if on != self.holding {
            self.holding = on;
            let gauge = &self.shared.env.context.upstream;
            if on { gauge.hold() } else { gauge.unhold() }
        }
    }

    /// Reads the frames that are in, while the client's side has room for the answers.
    fn read(&mut self) {
        if self.preface {
            let n = self.rx.len().min(PREFACE.len());
            if self.rx[..n] != PREFACE[..n] {
                return self.go_away(code::PROTOCOL_ERROR);
            }
            if n < PREFACE.len() {
                return;
            }
            self.rx.advance(n);
            self.preface = false;
        }
        while !self.closing {
            let full = self.shared.env.context.downstream.full();
            self.hold(full);
            if full {
                return;
            }
            let Some(head) = Head::read(&self.rx) else { return };
            if head.len > frame::DEFAULT_MAX_FRAME {
                return self.go_away(code::FRAME_SIZE_ERROR);
            }
            if self.rx.len() < frame::HEAD_LEN + head.len {
                return self.rx.reserve(frame::HEAD_LEN + head.len - self.rx.len());
            }
            let mut f = self.rx.split_to(frame::HEAD_LEN + head.len).freeze();
            let payload = f.split_off(frame::HEAD_LEN);
            if let Err(code) = self.on_frame(head, payload) {
                self.go_away(code);
            }
        }
    }

    fn go_away(&mut self, code: u32) {
        tracing::debug!(target: "http", "HTTP/2: connection error {code}");
        frame::put_goaway(&mut self.out, self.last_id, code);
        self.closing = true;
    }

    fn on_frame(&mut self, h: Head, payload: Bytes) -> Result<(), u32> {
        if let Some(c) = &self.continuation
            && (h.kind != frame::CONTINUATION || h.stream != c.id)
        {
            return Err(code::PROTOCOL_ERROR);
        }
        match h.kind {
            frame::DATA => self.on_data(h, payload),
            frame::HEADERS => self.on_headers(h, payload),
            frame::CONTINUATION => self.on_continuation(h, payload),
            frame::PRIORITY if h.stream == 0 => Err(code::PROTOCOL_ERROR),
            frame::RST_STREAM => self.on_reset(h, &payload),
            frame::SETTINGS => self.on_settings(h, &payload),
            frame::PUSH_PROMISE => Err(code::PROTOCOL_ERROR),
            frame::PING if h.stream != 0 => Err(code::PROTOCOL_ERROR),
            frame::PING if h.len != 8 => Err(code::FRAME_SIZE_ERROR),
            frame::PING if !h.has(frame::ACK) => {
                frame::put_ping_ack(&mut self.out, &payload);
                Ok(())
            }
            frame::GOAWAY if h.stream != 0 => Err(code::PROTOCOL_ERROR),
            frame::GOAWAY => {
                self.client_goaway = true;
                Ok(())
            }
            frame::WINDOW_UPDATE => self.on_window_update(h, &payload),
            // PRIORITY is ignored (RFC 9113 5.3.2), and so are frames of unknown types.
            _ => Ok(()),
        }
    }

    fn find(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    fn on_reset(&mut self, h: Head, payload: &[u8]) -> Result<(), u32> {
        if h.stream == 0 || h.stream > self.last_id {
            return Err(code::PROTOCOL_ERROR);
        }
        if payload.len() != 4 {
            return Err(code::FRAME_SIZE_ERROR);
        }
        let Some(i) = self.find(h.stream) else { return Ok(()) };
        let s = self.streams.swap_remove(i);
        s.abort();
        self.pending += s.pending + s.held;
        if !s.sent_end {
            self.resets += 1;
            if self.resets > MAX_RESETS {
                return Err(code::ENHANCE_YOUR_CALM);
            }
        }
        Ok(())
    }

    fn on_settings(&mut self, h: Head, payload: &[u8]) -> Result<(), u32> {
        if h.stream != 0 {
            return Err(code::PROTOCOL_ERROR);
        }
        if h.has(frame::ACK) {
            return if payload.is_empty() { Ok(()) } else { Err(code::FRAME_SIZE_ERROR) };
        }
        if !payload.len().is_multiple_of(6) {
            return Err(code::FRAME_SIZE_ERROR);
        }
        for s in payload.chunks(6) {
            let value = u32::from_be_bytes([s[2], s[3], s[4], s[5]]);
            match u16::from_be_bytes([s[0], s[1]]) {
                setting::HEADER_TABLE_SIZE if value != self.peer_table_size => {
                    self.peer_table_size = value;
                    self.hpack.set_peer_table_size(value as usize);
                }
                setting::ENABLE_PUSH if value > 1 => return Err(code::PROTOCOL_ERROR),
                setting::INITIAL_WINDOW_SIZE => {
                    let value = value as i64;
                    if value > frame::MAX_WINDOW {
                        return Err(code::FLOW_CONTROL_ERROR);
                    }
                    let delta = value - self.peer_initial_window;
                    self.peer_initial_window = value;
                    for s in &mut self.streams {
                        s.send_window += delta;
                        if s.send_window > frame::MAX_WINDOW {
                            return Err(code::FLOW_CONTROL_ERROR);
                        }
                    }
                }
                setting::MAX_FRAME_SIZE if !(frame::DEFAULT_MAX_FRAME..1 << 24).contains(&(value as usize)) => {
                    return Err(code::PROTOCOL_ERROR);
                }
                setting::MAX_FRAME_SIZE => self.peer_max_frame = value as usize,
                _ => {}
            }
        }
        frame::put_settings_ack(&mut self.out);
        Ok(())
    }

    fn on_window_update(&mut self, h: Head, payload: &[u8]) -> Result<(), u32> {
        let Ok(n) = <[u8; 4]>::try_from(payload) else { return Err(code::FRAME_SIZE_ERROR) };
        let n = (u32::from_be_bytes(n) & 0x7fff_ffff) as i64;
        if h.stream == 0 {
            self.send_window += n;
            return match (n, self.send_window > frame::MAX_WINDOW) {
                (0, _) => Err(code::PROTOCOL_ERROR),
                (_, true) => Err(code::FLOW_CONTROL_ERROR),
                _ => Ok(()),
            };
        }
        let Some(i) = self.find(h.stream) else {
            return if h.stream > self.last_id { Err(code::PROTOCOL_ERROR) } else { Ok(()) };
        };
        let s = &mut self.streams[i];
        s.send_window += n;
        match (n, s.send_window > frame::MAX_WINDOW) {
            (0, _) => self.stream_error(i, code::PROTOCOL_ERROR),
            (_, true) => self.stream_error(i, code::FLOW_CONTROL_ERROR),
            _ => Ok(()),
        }
    }

    /// Gives the client back the window of what was read and passed on: a stream's once
    /// half of its window is used, the connection's once a quarter is.
    fn release_windows(&mut self) {
        let room = !self.shared.env.context.upstream.full();
        for s in &mut self.streams {
            if room && s.held > 0 {
                s.pending += s.held;
                self.pending += s.held;
                s.held = 0;
            }
            if s.recv_open && s.pending as i64 >= STREAM_WINDOW / 2 {
                frame::put_window_update(&mut self.out, s.id, s.pending as u32);
                s.recv_window += s.pending as i64;
                s.pending = 0;
            }
        }
        if self.pending as i64 >= CONN_WINDOW / 4 {
            frame::put_window_update(&mut self.out, 0, self.pending as u32);
            self.recv_window += self.pending as i64;
            self.pending = 0;
        }
    }

    /// Writes what the streams' answers have; `true` when a body waits for room on the
    /// client's side.
    fn write_answers(&mut self) -> bool {
        let mut o = Sink {
            buf: &mut self.out,
            hpack: &mut self.hpack,
            window: &mut self.send_window,
            max_frame: self.peer_max_frame,
            room: !self.shared.env.context.downstream.full(),
            blocked: false,
        };
        for s in &mut self.streams {
            s.write(&mut o);
        }
        o.blocked
    }

    /// Drops the streams whose answers are out.
    fn remove_done(&mut self) {
        let mut i = 0;
        while i < self.streams.len() {
            if !self.streams[i].sent_end {
                i += 1;
                continue;
            }
            let mut s = self.streams.remove(i);
            s.close(&mut self.out);
            self.pending += s.pending + s.held;
            self.resets = self.resets.saturating_sub(1);
        }
    }
}

impl Drop for Http2Server {
    fn drop(&mut self) {
        self.hold(false);
    }
}
