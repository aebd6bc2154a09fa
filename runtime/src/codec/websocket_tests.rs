use proptest::prelude::*;

use super::*;

/// A text message in two masked fragments with a ping between them, an unmasked binary
/// message of 300 bytes (16-bit length), an empty close frame.
fn sample() -> Vec<u8> {
    let key = Some([1, 2, 3, 4]);
    let mut s = Vec::new();
    write_frame(true, 1, false, key, b"Hello, ", &mut s);
    write_frame(true, 9, true, key, b"ping", &mut s);
    write_frame(false, 1, true, key, b"world", &mut s);
    write_frame(true, 2, true, None, &[7; 300], &mut s);
    write_frame(true, 8, true, None, b"", &mut s);
    s
}

/// A message as (opcode, masked, payload).
type Decoded = (u8, bool, Vec<u8>);

/// The messages, and the error that stopped the decoder if one did.
fn decode_split(input: &[u8], cuts: &[usize]) -> (Vec<Decoded>, Option<Malformed>) {
    let mut d = Decoder::default();
    let mut pieces = Vec::new();
    let mut from = 0;
    let mut error = None;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        let c = c.clamp(from, input.len());
        if let Err(e) = d.feed(Bytes::copy_from_slice(&input[from..c]), &mut pieces) {
            error = Some(e);
            break;
        }
        from = c;
    }
    let mut messages = Vec::new();
    for p in pieces {
        match p {
            Piece::Start { opcode, masked } => messages.push((opcode, masked, Vec::new())),
            Piece::Data(d) => messages.last_mut().expect("data in a message").2.extend_from_slice(&d),
            Piece::End => {}
        }
    }
    (messages, error)
}

#[test]
fn frames_become_messages_unmasked_with_controls_after_the_fragmented_one() {
    let (messages, error) = decode_split(&sample(), &[]);
    assert_eq!(error, None);
    assert_eq!(
        messages,
        vec![
            (1, true, b"Hello, world".to_vec()),
            (9, true, b"ping".to_vec()),
            (2, false, vec![7; 300]),
            (8, false, vec![]),
        ]
    );
}

#[test]
fn frames_are_written_with_the_length_forms_and_masks_of_rfc_6455() {
    let mut out = Vec::new();
    write_frame(true, 1, true, None, b"Hi", &mut out);
    assert_eq!(out, [0x81, 2, b'H', b'i']);
    let mut out = Vec::new();
    write_frame(false, 1, false, Some([0xff, 0, 0xff, 0]), b"ab", &mut out);
    assert_eq!(out, [0x00, 0x82, 0xff, 0, 0xff, 0, b'a' ^ 0xff, b'b']);
    let mut out = Vec::new();
    write_frame(true, 2, true, None, &vec![0; 70_000], &mut out);
    assert_eq!(out[..10], [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
}

#[test]
fn bad_frames_and_fragments_are_refused() {
    let mut long_ping = Vec::new();
    write_frame(true, 9, true, None, &[0; 126], &mut long_ping);
    assert_eq!(decode_split(&long_ping, &[]).1, Some(Malformed::BadFrame));
    assert_eq!(decode_split(&[0x09, 0], &[]).1, Some(Malformed::BadFrame), "a fragmented ping");
    assert_eq!(decode_split(&[0x80, 0], &[]).1, Some(Malformed::BadFragment), "nothing to continue");
    assert_eq!(decode_split(&[0x01, 0, 0x81, 0], &[]).1, Some(Malformed::BadFragment));
    let huge = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(decode_split(&huge, &[]).1, Some(Malformed::BadFrame));
    let mut pings = vec![0x01, 0];
    (0..=MAX_PENDING).for_each(|_| pings.extend_from_slice(&[0x89, 1, b'x']));
    assert_eq!(decode_split(&pings, &[]).1, Some(Malformed::TooManyControls));
}

#[test]
fn a_big_payload_passes_through_in_the_pieces_it_came_in() {
    let mut input = Vec::new();
    write_frame(true, 2, true, Some([9, 8, 7, 6]), &vec![5; 1 << 20], &mut input);
    let mut d = Decoder::default();
    let mut out = Vec::new();
    for chunk in input.chunks(65536) {
        d.feed(Bytes::copy_from_slice(chunk), &mut out).unwrap();
        // Nothing is held but a header: each piece is out before the next comes.
        assert!(d.head.len() < MAX_HEAD);
    }
    assert_eq!(out.len(), 1 + 17 + 1);
    assert!(!d.is_partial());
}

proptest! {
    #[test]
    fn any_split_gives_the_same_messages(cuts in proptest::collection::vec(0..400usize, 0..8)) {
        let input = sample();
        let mut cuts = cuts;
        cuts.sort();
        prop_assert_eq!(decode_split(&input, &cuts), decode_split(&input, &[]));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_split_the_same(
        input in proptest::collection::vec(prop_oneof![Just(0x80u8), Just(0x01), Just(0x89), Just(126), Just(127), any::<u8>()], 0..64),
        cut in 0..64usize,
    ) {
        prop_assert_eq!(decode_split(&input, &[cut]), decode_split(&input, &[]));
    }
}
