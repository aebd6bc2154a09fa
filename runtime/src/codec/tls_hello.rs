//! The server names and ALPN protocols of a TLS ClientHello, read from the first records of
//! a stream (`handleTLSClientHello`).

/// What a ClientHello offered.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Hello {
    /// SNI host names; `None` when the extension is absent.
    pub server_names: Option<Vec<String>>,
    /// ALPN protocol names; `None` when the extension is absent.
    pub protocol_names: Option<Vec<String>>,
}

/// Where reading the start of a stream got to.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// More bytes are needed.
    More,
    /// The stream does not start with a ClientHello (or its hello is malformed).
    NotHello,
    Hello(Hello),
}

/// The largest hello read: bigger ones are not waited for.
const LIMIT: usize = 64 * 1024;

/// Reads the handshake message carried by the records at the start of `stream`.
pub fn scan(stream: &[u8]) -> Scan {
    let mut message = Vec::new();
    let mut rest = stream;
    loop {
        // The handshake message: type 1 (ClientHello) and a 24-bit length.
        if message.len() >= 4 {
            if message[0] != 1 {
                return Scan::NotHello;
            }
            let len = (usize::from(message[1]) << 16) | (usize::from(message[2]) << 8) | usize::from(message[3]);
            if len > LIMIT {
                return Scan::NotHello;
            }
            if message.len() >= 4 + len {
                return parse(&message[4..4 + len]).map_or(Scan::NotHello, Scan::Hello);
            }
        }
        // The next record: type 22 (handshake), version, 16-bit length.
        if rest.len() < 5 {
            return if rest.first().is_some_and(|t| *t != 22) { Scan::NotHello } else { Scan::More };
        }
        let len = (usize::from(rest[3]) << 8) | usize::from(rest[4]);
        if rest[0] != 22 || len == 0 {
            return Scan::NotHello;
        }
        if rest.len() < 5 + len {
            return Scan::More;
        }
        message.extend_from_slice(&rest[5..5 + len]);
        rest = &rest[5 + len..];
    }
}

/// A cursor over a hello's bytes; every read fails past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|b| usize::from(b[0]))
    }

    fn u16(&mut self) -> Option<usize> {
        self.take(2).map(|b| (usize::from(b[0]) << 8) | usize::from(b[1]))
    }

    /// A block whose length is a `u8` (`short`) or `u16` before it.
    fn block(&mut self, short: bool) -> Option<Reader<'a>> {
        let n = if short { self.u8()? } else { self.u16()? };
        self.take(n).map(Reader)
    }
}

fn parse(body: &[u8]) -> Option<Hello> {
    let mut r = Reader(body);
    r.take(2 + 32)?; // version, random
    r.block(true)?; // session id
    r.block(false)?; // cipher suites
    r.block(true)?; // compression methods
    let mut hello = Hello::default();
    let Some(mut extensions) = r.block(false) else { return Some(hello) };
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let mut data = extensions.block(false)?;
        match kind {
            0 => hello.server_names = Some(server_names(&mut data)?),
            16 => hello.protocol_names = Some(protocol_names(&mut data)?),
            _ => {}
        }
    }
    Some(hello)
}

fn server_names(data: &mut Reader<'_>) -> Option<Vec<String>> {
    let mut list = data.block(false)?;
    let mut names = Vec::new();
    while !list.0.is_empty() {
        let kind = list.u8()?;
        let name = list.block(false)?;
        if kind == 0 {
            names.push(String::from_utf8_lossy(name.0).into_owned());
        }
    }
    Some(names)
}

fn protocol_names(data: &mut Reader<'_>) -> Option<Vec<String>> {
    let mut list = data.block(false)?;
    let mut names = Vec::new();
    while !list.0.is_empty() {
        names.push(String::from_utf8_lossy(list.block(true)?.0).into_owned());
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record with these extensions (type, data).
    fn hello(extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut ext = Vec::new();
        for (kind, data) in extensions {
            ext.extend_from_slice(&kind.to_be_bytes());
            ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
            ext.extend_from_slice(data);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut message = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
        message.extend_from_slice(&body);
        let mut record = vec![22, 3, 1, (message.len() >> 8) as u8, message.len() as u8];
        record.extend_from_slice(&message);
        record
    }

    fn sni(name: &str) -> (u16, Vec<u8>) {
        let mut entry = vec![0, 0, name.len() as u8];
        entry.extend_from_slice(name.as_bytes());
        let mut data = (entry.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&entry);
        (0, data)
    }

    fn alpn(names: &[&str]) -> (u16, Vec<u8>) {
        let mut list = Vec::new();
        for n in names {
            list.push(n.len() as u8);
            list.extend_from_slice(n.as_bytes());
        }
        let mut data = (list.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&list);
        (16, data)
    }

    #[test]
    fn names_and_protocols_are_read_once_the_whole_hello_is_in() {
        let record = hello(&[(5, vec![1, 2]), sni("a.test"), alpn(&["h2", "http/1.1"])]);
        for cut in [0, 3, 5, record.len() - 1] {
            assert_eq!(scan(&record[..cut]), Scan::More, "cut at {cut}");
        }
        let want = Hello {
            server_names: Some(vec!["a.test".into()]),
            protocol_names: Some(vec!["h2".into(), "http/1.1".into()]),
        };
        assert_eq!(scan(&record), Scan::Hello(want));
    }

    #[test]
    fn absent_extensions_are_none_and_other_streams_are_not_hellos() {
        assert_eq!(scan(&hello(&[])), Scan::Hello(Hello::default()));
        assert_eq!(scan(b"GET / HTTP/1.1\r\n\r\n"), Scan::NotHello);
        let mut truncated = hello(&[sni("a.test")]);
        truncated[5 + 4 + 2 + 32] = 200; // a session id longer than the hello
        assert_eq!(scan(&truncated), Scan::NotHello);
    }
}
