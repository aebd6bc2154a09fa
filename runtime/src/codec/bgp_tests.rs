use proptest::prelude::*;

use super::*;
use crate::codec::bgp_encode::encode;
use crate::codec::fields::field;

fn message(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((payload.len() + HEADER) as u16).to_be_bytes());
    m.push(kind);
    m.extend_from_slice(payload);
    m
}

/// An OPEN with two capabilities, an UPDATE with every attribute Pipy names and one it does
/// not, a KEEPALIVE, a NOTIFICATION with data, a ROUTE-REFRESH and a type of no name.
fn sample(as4: bool) -> Vec<u8> {
    let asn = |n: u32| if as4 { n.to_be_bytes().to_vec() } else { (n as u16).to_be_bytes().to_vec() };
    let open =
        [&[4, 0xfd, 0xe8, 0, 90, 10, 0, 0, 1, 14, 2, 12][..], &[1, 4, 0, 1, 0, 1, 65, 4, 0, 0, 0xfd, 0xe8]].concat();
    let mut attrs = vec![0x40, 1, 1, 2];
    let path = [&[2u8, 2][..], &asn(65000), &asn(65001), &[1, 1], &asn(7)].concat();
    attrs.extend_from_slice(&[0x40, 2, path.len() as u8]);
    attrs.extend_from_slice(&path);
    attrs
        .extend_from_slice(&[0x40, 3, 4, 192, 168, 1, 1, 0x80, 4, 4, 0, 0, 0, 9, 0x40, 5, 4, 0, 0, 0, 100, 0x40, 6, 0]);
    let aggregator = [&asn(65002)[..], &[10, 9, 8, 7]].concat();
    attrs.extend_from_slice(&[0xc0, 7, aggregator.len() as u8]);
    attrs.extend_from_slice(&aggregator);
    attrs.extend_from_slice(&[0xe0, 99, 3, 1, 2, 3]);
    let update = [&[0, 3, 16, 172, 16][..], &(attrs.len() as u16).to_be_bytes(), &attrs, &[24, 10, 1, 2]].concat();
    [
        message(1, &open),
        message(2, &update),
        message(4, &[]),
        message(3, &[6, 2, b'b', b'y', b'e']),
        message(5, &[0, 1, 0, 1]),
        message(42, &[1, 2]),
    ]
    .concat()
}

fn decode_split(input: &[u8], cuts: &[usize]) -> (Vec<Tree>, bool) {
    let mut f = Framer::default();
    let mut out = Vec::new();
    let mut from = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        let c = c.clamp(from, input.len());
        f.feed(&input[from..c]);
        from = c;
        loop {
            match f.next_message() {
                Ok(Some(m)) => match decode(&m, true) {
                    Ok(t) => out.push(t),
                    Err(Malformed) => return (out, true),
                },
                Ok(None) => break,
                Err(Malformed) => return (out, true),
            }
        }
    }
    (out, false)
}

#[test]
fn known_messages_decode_to_pipys_shape_and_encode_back_to_the_same_bytes() {
    for as4 in [false, true] {
        let input = sample(as4);
        let messages = decode_all(&input, as4);
        assert_eq!(messages.len(), 6);
        let mut out = Vec::new();
        messages.iter().for_each(|m| encode(m, as4, &mut out));
        assert_eq!(out, input, "as4 {as4}");
    }
    let messages = decode_all(&sample(true), true);
    let open = field(&messages[0], "body");
    assert_eq!(field(&messages[0], "type"), &Tree::Str("OPEN".into()));
    assert_eq!(field(open, "myAS"), &Tree::Number(65000.0));
    assert_eq!(field(open, "identifier"), &Tree::Str("10.0.0.1".into()));
    let update = field(&messages[1], "body");
    assert_eq!(field(update, "withdrawnRoutes"), &Tree::Array(vec![Tree::Str("172.16.0.0/16".into())]));
    assert_eq!(field(update, "destinations"), &Tree::Array(vec![Tree::Str("10.1.2.0/24".into())]));
    let Tree::Array(attrs) = field(update, "pathAttributes") else { panic!("no attributes") };
    let path = Tree::Array(vec![
        Tree::Array(vec![Tree::Number(65000.0), Tree::Number(65001.0)]),
        Tree::Object(vec![("7".into(), Tree::Number(7.0))]),
    ]);
    assert_eq!(field(&attrs[1], "value"), &path);
    assert_eq!(field(&attrs[6], "value"), &Tree::Array(vec![Tree::Number(65002.0), Tree::Str("10.9.8.7".into())]));
    assert_eq!(field(&attrs[7], "name"), &Tree::Null);
    assert_eq!(field(&messages[2], "body"), &Tree::Null);
    assert_eq!(field(&messages[5], "type"), &Tree::Number(42.0));
}

fn text(s: &str) -> Tree {
    Tree::Str(s.into())
}

fn object(fields: Vec<(&str, Tree)>) -> Tree {
    Tree::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

#[test]
fn scripts_messages_take_names_defaults_and_skip_undefined() {
    let attrs = Tree::Array(vec![
        object(vec![("name", text("ORIGIN")), ("value", Tree::Number(1.0)), ("transitive", Tree::Bool(true))]),
        Tree::Undefined,
        object(vec![("name", text("NEXT_HOP")), ("value", text("10.0.0.9")), ("transitive", Tree::Bool(true))]),
    ]);
    let body = object(vec![
        ("pathAttributes", attrs),
        ("withdrawnRoutes", Tree::Array(vec![])),
        ("destinations", Tree::Array(vec![text("10.1.2.3/24")])),
    ]);
    let mut out = Vec::new();
    encode(&object(vec![("type", text("UPDATE")), ("body", body)]), true, &mut out);
    let want = message(2, &[0, 0, 0, 11, 0x40, 1, 1, 1, 0x40, 3, 4, 10, 0, 0, 9, 24, 10, 1, 2]);
    assert_eq!(out, want);
    let mut out = Vec::new();
    encode(&object(vec![("type", text("OPEN")), ("body", object(vec![("myAS", Tree::Number(1.0))]))]), false, &mut out);
    assert_eq!(out, message(1, &[4, 0, 1, 0, 0, 0, 0, 0, 0, 0]));
    let mut out = Vec::new();
    encode(&object(vec![]), false, &mut out);
    assert_eq!(out, message(4, &[]), "no type is a KEEPALIVE");
}

#[test]
fn malformed_messages_stop_the_decoder() {
    assert_eq!(decode_split(&message(2, &[0, 9]), &[]), (vec![], true));
    let mut short = message(4, &[]);
    short[17] = 18;
    assert!(decode_split(&short, &[]).1);
    let bad_prefix = message(2, &[0, 0, 0, 0, 33, 1, 2, 3, 4, 5]);
    assert_eq!(decode_split(&[message(4, &[]), bad_prefix].concat(), &[]).0.len(), 1);
}

proptest! {
    #[test]
    fn any_split_gives_the_same_messages(cuts in proptest::collection::vec(0..400usize, 0..8)) {
        let input = sample(true);
        let mut cuts = cuts;
        cuts.sort();
        prop_assert_eq!(decode_split(&input, &cuts), decode_split(&input, &[]));
    }

    #[test]
    fn arbitrary_bodies_never_panic_and_split_the_same(
        kind in 0..7u8,
        body in proptest::collection::vec(any::<u8>(), 0..80),
        cut in 0..120usize,
    ) {
        let input = message(kind, &body);
        let (whole, _) = decode_split(&input, &[]);
        prop_assert_eq!(decode_split(&input, &[cut]), decode_split(&input, &[]));
        for m in whole {
            encode(&m, true, &mut Vec::new());
        }
    }
}
