//! The differential test: the shapes real servers (nginx, and a raw server for what nginx
//! cannot make) and a real client (curl) use, through both ways a script proxies HTTP, must
//! get the answer the same request gets straight from the upstream: the same heads (1xx
//! and trailers included, hop-by-hop headers aside) and the same body bytes.

use weir_tests::differential::{BIG, Case, Shape, Upstream, differential};

const K64: u64 = 64 * 1024;

/// One test per case and shape, so that a failure names both.
macro_rules! cases {
    ($($(#[$attr:meta])* $name:ident: $shape:ident, $case:expr;)*) => {
        $(
            #[test]
            $(#[$attr])*
            fn $name() {
                differential(Shape::$shape, $case);
            }
        )*
    };
}

const fn nginx(path: &'static str) -> Case {
    Case::get(Upstream::Nginx, path)
}

const fn raw(path: &'static str) -> Case {
    Case::get(Upstream::Raw, path)
}

const GZIP: Case = Case { headers: &["accept-encoding: gzip"], ..nginx("/gz/page.txt") };
const HEAD: Case = Case { head: true, ..nginx("/b64k") };
const NOT_MODIFIED: Case = Case { headers: &["if-none-match: \"v1\""], ..raw("/304") };

cases! {
    mux_length_0: Mux, nginx("/b0");
    codec_length_0: Codec, nginx("/b0");
    mux_length_1: Mux, nginx("/b1");
    codec_length_1: Codec, nginx("/b1");
    mux_length_64k: Mux, nginx("/b64k");
    codec_length_64k: Codec, nginx("/b64k");
    mux_length_20m: Mux, nginx("/b20m");
    codec_length_20m: Codec, nginx("/b20m");
    mux_chunked_gzip: Mux, GZIP;
    codec_chunked_gzip: Codec, GZIP;
    mux_close_delimited: Mux, raw("/eof");
    codec_close_delimited: Codec, raw("/eof");
    mux_no_content_204: Mux, nginx("/204");
    codec_no_content_204: Codec, nginx("/204");
    mux_not_modified_with_length: Mux, NOT_MODIFIED;
    codec_not_modified_with_length: Codec, NOT_MODIFIED;
    mux_head_with_length: Mux, HEAD;
    codec_head_with_length: Codec, HEAD;
    mux_trailers: Mux, raw("/trailers");
    codec_trailers: Codec, raw("/trailers");
    mux_early_hints_103: Mux, raw("/103");
    codec_early_hints_103: Codec, raw("/103");
    mux_upload_64k: Mux, Case::upload(K64, false, false);
    codec_upload_64k: Codec, Case::upload(K64, false, false);
    mux_upload_64k_expect: Mux, Case::upload(K64, false, true);
    codec_upload_64k_expect: Codec, Case::upload(K64, false, true);
    mux_upload_20m: Mux, Case::upload(BIG, false, false);
    codec_upload_20m: Codec, Case::upload(BIG, false, false);
    mux_upload_20m_expect: Mux, Case::upload(BIG, false, true);
    codec_upload_20m_expect: Codec, Case::upload(BIG, false, true);
    mux_upload_chunked_64k: Mux, Case::upload(K64, true, false);
    codec_upload_chunked_64k: Codec, Case::upload(K64, true, false);
    mux_upload_chunked_20m: Mux, Case::upload(BIG, true, false);
    codec_upload_chunked_20m: Codec, Case::upload(BIG, true, false);
}
