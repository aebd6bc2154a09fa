use bytes::Bytes;

use super::encode::COALESCE;

use super::*;

/// A decoder's output with bodies joined per message, so that results of different input
/// segmentations compare equal.
#[derive(Debug, PartialEq, Eq)]
enum Ev<M> {
    Head(M),
    Body(Vec<u8>),
    End(Tail),
    Preface,
    Tunnel(Vec<u8>),
    Error(DecodeError),
}

fn push<M>(evs: &mut Vec<Ev<M>>, item: Item<M>) {
    match item {
        Item::Head(h) => evs.push(Ev::Head(h)),
        Item::Body(b) => match evs.last_mut() {
            Some(Ev::Body(v)) => v.extend_from_slice(&b),
            _ => evs.push(Ev::Body(b.to_vec())),
        },
        Item::End(t) => evs.push(Ev::End(t)),
        Item::Http2Preface => evs.push(Ev::Preface),
        Item::Tunnel(b) => match evs.last_mut() {
            Some(Ev::Tunnel(v)) => v.extend_from_slice(&b),
            _ => evs.push(Ev::Tunnel(b.to_vec())),
        },
        Item::Error(e) => evs.push(Ev::Error(e)),
    }
}

fn requests(segments: &[&[u8]]) -> Vec<Ev<DecodedRequest>> {
    let mut d = RequestDecoder::new();
    let mut evs = Vec::new();
    for s in segments {
        d.feed(Bytes::copy_from_slice(s));
        while let Some(item) = d.next() {
            push(&mut evs, item);
        }
    }
    evs
}

fn responses_with(d: &mut ResponseDecoder, segments: &[&[u8]]) -> Vec<Ev<DecodedResponse>> {
    let mut evs = Vec::new();
    for s in segments {
        d.feed(Bytes::copy_from_slice(s));
        while let Some(item) = d.next() {
            push(&mut evs, item);
        }
    }
    if let Some(item) = d.finish() {
        push(&mut evs, item);
    }
    evs
}

fn responses(segments: &[&[u8]]) -> Vec<Ev<DecodedResponse>> {
    responses_with(&mut ResponseDecoder::new(), segments)
}

fn h(name: &str, value: &str) -> Header {
    Header::new(name, value)
}

fn req(method: &str, path: &str, headers: Vec<Header>) -> Ev<DecodedRequest> {
    let head = RequestHead { method: method.into(), path: path.into(), protocol: "HTTP/1.1".into(), headers };
    let info = head.info();
    Ev::Head(DecodedRequest { head, info })
}

fn res(status: u16, text: &str, headers: Vec<Header>, info: ResponseInfo) -> Ev<DecodedResponse> {
    let head = ResponseHead { protocol: "HTTP/1.1".into(), status, status_text: text.into(), headers };
    Ev::Head(DecodedResponse { head, info })
}

fn end(head_size: usize, body_size: u64) -> Tail {
    Tail { head_size, body_size, trailers: Vec::new() }
}

fn body(b: &str) -> Ev<DecodedRequest> {
    Ev::Body(b.as_bytes().to_vec())
}

fn rbody(b: &str) -> Ev<DecodedResponse> {
    Ev::Body(b.as_bytes().to_vec())
}

mod decode;
mod encode;
mod framing;
mod response;
