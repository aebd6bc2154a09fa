use proptest::prelude::*;

use super::*;

fn name(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    write_name(s, &mut out, "test").unwrap();
    out
}

fn rr(owner: &[u8], t: u16, class: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut out = owner.to_vec();
    out.extend_from_slice(&t.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
    out
}

/// A response to `example.com A` with one record of each type Pipy reads, names written
/// whole, an OPT record in the additional section.
fn response() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 8, 0, 1, 0, 1];
    m.extend(name("example.com"));
    m.extend_from_slice(&[0, 1, 0, 1]);
    let owner = name("example.com");
    m.extend(rr(&owner, 1, 1, 300, &[93, 184, 216, 34]));
    m.extend(rr(&owner, 28, 1, 300, &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    m.extend(rr(&name("www.example.com"), 5, 1, 60, &name("example.com")));
    m.extend(rr(&owner, 15, 1, 60, &[&[0, 10][..], &name("mail.example.com")].concat()));
    m.extend(rr(
        &name("_sip._udp.example.com"),
        33,
        1,
        60,
        &[&[0, 1, 0, 2, 0x13, 0xc4][..], &name("sip.example.com")].concat(),
    ));
    m.extend(rr(&owner, 16, 1, 60, b"\x05hello"));
    m.extend(rr(&name("34.216.184.93.in-addr.arpa"), 12, 1, 60, &name("example.com")));
    m.extend(rr(&owner, 99, 3, 60, &[0xde, 0xad]));
    let soa = [
        &name("ns.example.com")[..],
        &name("admin.example.com"),
        &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5],
    ]
    .concat();
    m.extend(rr(&owner, 6, 1, 3600, &soa));
    m.extend(rr(&[0], 41, 1232, 0, &[]));
    m
}

fn s(v: &str) -> Tree {
    Tree::Str(v.into())
}

#[test]
fn a_response_decodes_to_pipys_shape_and_encodes_back_to_the_same_bytes() {
    let msg = decode(&response()).unwrap();
    assert_eq!(field(&msg, "id"), &num(0x1234));
    assert_eq!((field(&msg, "qr"), field(&msg, "rd"), field(&msg, "ra")), (&num(1), &num(1), &num(1)));
    assert_eq!(field(&msg, "aa"), &Tree::Undefined, "zero flags are left out");
    let q = Tree::Object(vec![("name".into(), s("example.com")), ("type".into(), s("A"))]);
    assert_eq!(field(&msg, "question"), &Tree::Array(vec![q]));
    let Tree::Array(answer) = field(&msg, "answer") else { panic!("no answer") };
    let rdata: Vec<&Tree> = answer.iter().map(|r| field(r, "rdata")).collect();
    assert_eq!(rdata[..3], [&s("93.184.216.34"), &s("2001:db8::1"), &s("example.com")]);
    assert_eq!(field(rdata[3], "exchange"), &s("mail.example.com"));
    assert_eq!(field(rdata[4], "port"), &num(5060));
    assert_eq!(rdata[5..], [&s("hello"), &s("example.com"), &s("dead")]);
    assert_eq!((field(&answer[7], "type"), field(&answer[7], "class")), (&num(99), &num(3)));
    let Tree::Array(authority) = field(&msg, "authority") else { panic!("no authority") };
    assert_eq!(field(field(&authority[0], "rdata"), "minimum"), &num(5));
    let Tree::Array(additional) = field(&msg, "additional") else { panic!("no additional") };
    assert_eq!(
        additional[0],
        Tree::Object(vec![
            ("name".into(), s("")),
            ("type".into(), s("OPT")),
            ("class".into(), num(1232)),
            ("ttl".into(), num(0)),
            ("rdata".into(), s("")),
        ])
    );
    assert_eq!(encode(&msg).unwrap(), response());
}

#[test]
fn compressed_names_are_followed_and_loops_refused() {
    // example.com at 12, then an answer whose owner and CNAME target point back at it.
    let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    m.extend(name("example.com"));
    m.extend_from_slice(&[0, 5, 0, 1]);
    m.extend(rr(&[0xc0, 12], 5, 1, 60, &[3, b'w', b'w', b'w', 0xc0, 12]));
    let msg = decode(&m).unwrap();
    let Tree::Array(answer) = field(&msg, "answer") else { panic!("no answer") };
    assert_eq!((field(&answer[0], "name"), field(&answer[0], "rdata")), (&s("example.com"), &s("www.example.com")));
    let mut looped = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0xc0, 12];
    looped.extend_from_slice(&[0, 1, 0, 1]);
    assert!(decode(&looped).is_err());
    assert_eq!(decode(&[0; 11]), Err("dns decode # data error".into()));
}

#[test]
fn encoding_names_the_field_that_is_wrong() {
    let no_id = Tree::Object(vec![]);
    assert_eq!(encode(&no_id), Err("dns encode # id error".into()));
    let rec = Tree::Object(vec![
        ("name".into(), s("x")),
        ("type".into(), s("A")),
        ("ttl".into(), num(1)),
        ("rdata".into(), s("nope")),
    ]);
    let msg = Tree::Object(vec![("id".into(), num(1)), ("answer".into(), Tree::Array(vec![rec]))]);
    assert_eq!(encode(&msg), Err("invalid IPv4 notation".into()));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(prop_oneof![Just(0xc0u8), Just(0), Just(1), any::<u8>()], 0..96)) {
        if let Ok(msg) = decode(&input) {
            let _ = encode(&msg);
        }
    }

    #[test]
    fn a_cut_response_is_an_error_not_a_panic(cut in 0..300usize) {
        let r = response();
        prop_assert!(cut >= r.len() || decode(&r[..cut]).is_err());
    }
}
