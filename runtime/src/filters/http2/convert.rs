//! Heads between our Message model and the `http` types `h2` speaks. HTTP/2 heads have no
//! connection-specific fields (RFC 9113 8.2.2): those of an HTTP/1 head are left out.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri};

use crate::codec::http1::{Header, RequestHead, ResponseHead, Text};

const PROTOCOL: &str = "HTTP/2";

/// The fields of `map` as header lines, `host` first from `authority` when there is no
/// `host` (as Pipy gives `:authority` to scripts).
pub fn headers_of(map: &HeaderMap, authority: Option<&str>) -> Vec<Header> {
    let host = authority.filter(|_| !map.contains_key(http::header::HOST)).map(|a| ("host", a.as_bytes()));
    Header::list(move || host.into_iter().chain(map.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))))
}

pub fn response_head(parts: &http::response::Parts) -> ResponseHead {
    ResponseHead {
        protocol: Text::from_static(PROTOCOL),
        status: parts.status.as_u16(),
        status_text: parts.status.canonical_reason().unwrap_or_default().into(),
        headers: headers_of(&parts.headers, None),
    }
}

/// The fields of `headers` HTTP/2 can carry; lines that are not valid fields are dropped.
pub fn header_map(headers: &[Header]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for h in headers.iter().filter(|h| !super::fields::is_connection_specific(h.name.as_bytes())) {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(h.name.as_bytes()), HeaderValue::from_bytes(h.bytes())) {
            map.append(n, v);
        }
    }
    map
}

/// A request for an upstream over HTTP/2: `host` becomes `:authority`.
pub fn request(head: &RequestHead) -> Result<http::Request<()>, String> {
    let method = Method::from_bytes(head.method.as_bytes()).map_err(|e| e.to_string())?;
    let host = head.header("host").unwrap_or("localhost");
    let uri = match method {
        Method::CONNECT => Uri::builder().authority(head.path.as_str()).build(),
        _ => Uri::builder().scheme("http").authority(host).path_and_query(head.path.as_str()).build(),
    };
    let mut r = http::Request::new(());
    *r.method_mut() = method;
    *r.uri_mut() = uri.map_err(|e| e.to_string())?;
    let mut map = header_map(&head.headers);
    map.remove(http::header::HOST);
    *r.headers_mut() = map;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_becomes_the_authority_and_http1_only_fields_stay_out() {
        let head = RequestHead {
            headers: vec![
                Header::new("Host", "up:80"),
                Header::new("Connection", "keep-alive"),
                Header::new("Transfer-Encoding", "chunked"),
                Header::new("X-Id", "7"),
            ],
            ..RequestHead::default()
        };
        let r = request(&head).unwrap();
        assert_eq!(r.uri().authority().map(|a| a.as_str()), Some("up:80"));
        let names: Vec<_> = r.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-id"]);
    }

    #[test]
    fn fields_keep_their_order_and_bytes_that_are_not_utf8() {
        let mut map = HeaderMap::new();
        map.append("x-a", HeaderValue::from_static("1"));
        map.append("x-b", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        map.append("x-a", HeaderValue::from_static("two"));
        let h = headers_of(&map, Some("up:80"));
        let lines: Vec<_> = h.iter().map(|h| (h.name.as_str(), h.bytes())).collect();
        assert_eq!(lines, [("host", &b"up:80"[..]), ("x-a", b"1"), ("x-a", b"two"), ("x-b", b"caf\xe9")]);
        assert_eq!(h[3].value.as_str(), "caf\u{fffd}");
        assert!(headers_of(&HeaderMap::new(), None).is_empty());
    }

    #[test]
    fn connect_carries_its_target_as_the_authority() {
        let head = RequestHead { method: "CONNECT".into(), path: "target:443".into(), ..RequestHead::default() };
        let r = request(&head).unwrap();
        assert_eq!((r.method().as_str(), r.uri().to_string().as_str()), ("CONNECT", "target:443"));
    }
}
