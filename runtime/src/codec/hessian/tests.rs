use proptest::prelude::*;

use super::*;

fn round_trip(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    encode(values, &mut out);
    assert_eq!(decode(&out).as_deref(), Ok(values), "{out:02x?}");
    out
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

#[test]
fn integers_take_the_shortest_form_of_their_width() {
    assert_eq!(round_trip(&[Value::Int(0), Value::Int(-16), Value::Int(47)]), [0x90, 0x80, 0xbf]);
    assert_eq!(round_trip(&[Value::Int(48), Value::Int(-2048)]), [0xc8, 0x30, 0xc0, 0x00]);
    assert_eq!(round_trip(&[Value::Int(0x3ffff)]), [0xd7, 0xff, 0xff]);
    assert_eq!(round_trip(&[Value::Int(i32::MIN)]), [b'I', 0x80, 0, 0, 0]);
    assert_eq!(round_trip(&[Value::Long(0), Value::Long(-8), Value::Long(15)]), [0xe0, 0xd8, 0xef]);
    assert_eq!(round_trip(&[Value::Long(-0x800)]), [0xf0, 0x00]);
    assert_eq!(round_trip(&[Value::Long(0x40000)]), [b'Y', 0, 4, 0, 0]);
    assert_eq!(round_trip(&[Value::Long(1 << 40)]), [b'L', 0, 0, 1, 0, 0, 0, 0, 0]);
}

#[test]
fn doubles_dates_and_scalars() {
    assert_eq!(round_trip(&[Value::Double(0.0), Value::Double(1.0), Value::Double(-128.0)]), [0x5b, 0x5c, 0x5d, 0x80]);
    assert_eq!(round_trip(&[Value::Double(300.0)]), [0x5e, 0x01, 0x2c]);
    assert_eq!(round_trip(&[Value::Double(0.5)]), [b'D', 0x3f, 0xe0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(round_trip(&[Value::Date(1)]), [b'J', 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(decode(&[b'K', 0, 0, 0, 2]), Ok(vec![Value::Date(120_000)]));
    assert_eq!(decode(&[0x5f, 0x3f, 0xc0, 0, 0]), Ok(vec![Value::Double(1.5)]));
    assert_eq!(round_trip(&[Value::Null, Value::Bool(true), Value::Bool(false)]), *b"NTF");
}

#[test]
fn strings_count_characters_and_chunk_past_1023() {
    assert_eq!(round_trip(&[s("héllo")]), [&[5][..], "héllo".as_bytes()].concat());
    let mid = "x".repeat(1000);
    assert_eq!(round_trip(&[s(&mid)])[..2], [0x33, 0xe8]);
    let long = "ü".repeat(70_000);
    let bytes = round_trip(&[s(&long)]);
    assert_eq!(bytes[..3], [b'R', 0xff, 0xff]);
    let second = 3 + 2 * 0xffff;
    assert_eq!(bytes[second..second + 3], [b'S', 0x11, 0x71]);
    // A final chunk may also be a compact string.
    assert_eq!(decode(b"R\x00\x02ab\x01c"), Ok(vec![s("abc")]));
}

#[test]
fn binary_chunks_past_1023() {
    assert_eq!(round_trip(&[Value::Binary(b"abc".to_vec())]), b"\x23abc");
    let big = vec![7u8; 70_000];
    let bytes = round_trip(&[Value::Binary(big)]);
    assert_eq!((bytes[0], bytes[3 + 0xffff]), (b'A', b'B'));
}

#[test]
fn lists_maps_objects_and_references() {
    let user = |id: &str| Value::Object {
        type_name: "demo.User".into(),
        fields: vec![("id".into(), s(id)), ("age".into(), Value::Int(30))],
    };
    let values = vec![
        Value::List { type_name: Some("[string".into()), items: vec![s("a"), s("b")] },
        Value::List { type_name: Some("[string".into()), items: vec![] },
        Value::List { type_name: None, items: vec![Value::Int(1)] },
        Value::Map { type_name: None, entries: vec![(s("k"), user("1"))] },
        Value::Map { type_name: Some("java.util.HashMap".into()), entries: vec![] },
        user("2"),
        Value::Ref(3),
    ];
    let bytes = round_trip(&values);
    // The second list names its type by number; the second user uses the class defined once.
    assert_eq!(bytes[..14], *b"V\x07[string\x92\x01a\x01b");
    assert_eq!(bytes[14..17], [b'V', 0x90, 0x90]);
    assert_eq!(bytes.iter().filter(|b| **b == b'C').count(), 1);
    assert_eq!(bytes[bytes.len() - 2..], [b'Q', 0x93]);
}

#[test]
fn variable_length_and_short_typed_forms_decode() {
    let list = |type_name: Option<&str>, items| Value::List { type_name: type_name.map(String::from), items };
    assert_eq!(decode(b"U\x01t\x91Z"), Ok(vec![list(Some("t"), vec![Value::Int(1)])]));
    assert_eq!(decode(b"W\x91\x92Z"), Ok(vec![list(None, vec![Value::Int(1), Value::Int(2)])]));
    assert_eq!(decode(b"\x72\x01t\x91\x92"), Ok(vec![list(Some("t"), vec![Value::Int(1), Value::Int(2)])]));
    assert_eq!(decode(b"\x79N"), Ok(vec![list(None, vec![Value::Null])]));
    let obj = Value::Object { type_name: "T".into(), fields: vec![("a".into(), Value::Int(1))] };
    assert_eq!(decode(b"C\x01T\x91\x01aO\x90\x91"), Ok(vec![obj]));
}

#[test]
fn malformed_input_is_an_error() {
    assert_eq!(decode(b"\x05ab"), Err(Error::Short));
    assert_eq!(decode(b"Q\x90"), Err(Error::Malformed("a reference to no list, map or object", 1)));
    assert_eq!(decode(b"\x60"), Err(Error::Malformed("an object of a class not defined", 0)));
    assert_eq!(decode(b"\x40"), Err(Error::Malformed("a byte code Hessian does not define", 0)));
    assert_eq!(decode(b"X\x01a"), Err(Error::Malformed("a length that is not an integer", 2)));
    assert_eq!(decode(&b"W".repeat(MAX_DEPTH + 1)), Err(Error::TooDeep));
    // A claimed length far past the input allocates nothing for it.
    assert_eq!(decode(b"XI\x7f\xff\xff\xff"), Err(Error::Short));
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::Int),
        any::<i64>().prop_map(Value::Long),
        any::<f64>().prop_filter("NaN is not equal to itself", |d| !d.is_nan()).prop_map(Value::Double),
        any::<i64>().prop_map(Value::Date),
        ".{0,40}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Binary),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            (proptest::option::of("[a-z]{1,8}"), proptest::collection::vec(inner.clone(), 0..4))
                .prop_map(|(type_name, items)| Value::List { type_name, items }),
            (proptest::option::of("[a-z]{1,8}"), proptest::collection::vec((inner.clone(), inner), 0..4))
                .prop_map(|(type_name, entries)| Value::Map { type_name, entries }),
        ]
    })
}

proptest! {
    #[test]
    fn any_values_decode_to_what_was_encoded(values in proptest::collection::vec(value(), 0..4)) {
        let mut out = Vec::new();
        encode(&values, &mut out);
        prop_assert_eq!(decode(&out), Ok(values));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }
}
