//! The differential test: the shapes real servers (nginx, and a raw server for what nginx
//! cannot make) and a real client (curl) use, through both ways a script proxies HTTP, must
//! get the answer the same request gets straight from the upstream: the same heads (1xx
//! and trailers included, hop-by-hop headers aside) and the same body bytes; the same
//! again with TLS on both sides (acceptTLS, connectTLS) and with curl speaking h2c.

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
    tls_mux_length_0: TlsMux, nginx("/b0");
    tls_mux_length_1: TlsMux, nginx("/b1");
    tls_mux_length_64k: TlsMux, nginx("/b64k");
    tls_mux_length_20m: TlsMux, nginx("/b20m");
    tls_mux_chunked_gzip: TlsMux, GZIP;
    tls_mux_close_delimited: TlsMux, raw("/eof");
    tls_mux_no_content_204: TlsMux, nginx("/204");
    tls_mux_not_modified_with_length: TlsMux, NOT_MODIFIED;
    tls_mux_head_with_length: TlsMux, HEAD;
    tls_mux_trailers: TlsMux, raw("/trailers");
    tls_mux_early_hints_103: TlsMux, raw("/103");
    tls_mux_upload_64k: TlsMux, Case::upload(K64, false, false);
    tls_mux_upload_64k_expect: TlsMux, Case::upload(K64, false, true);
    tls_mux_upload_20m: TlsMux, Case::upload(BIG, false, false);
    tls_mux_upload_20m_expect: TlsMux, Case::upload(BIG, false, true);
    tls_mux_upload_chunked_64k: TlsMux, Case::upload(K64, true, false);
    tls_mux_upload_chunked_20m: TlsMux, Case::upload(BIG, true, false);
    tls_codec_length_0: TlsCodec, nginx("/b0");
    tls_codec_length_1: TlsCodec, nginx("/b1");
    tls_codec_length_64k: TlsCodec, nginx("/b64k");
    tls_codec_length_20m: TlsCodec, nginx("/b20m");
    tls_codec_chunked_gzip: TlsCodec, GZIP;
    tls_codec_close_delimited: TlsCodec, raw("/eof");
    tls_codec_no_content_204: TlsCodec, nginx("/204");
    tls_codec_not_modified_with_length: TlsCodec, NOT_MODIFIED;
    tls_codec_head_with_length: TlsCodec, HEAD;
    tls_codec_trailers: TlsCodec, raw("/trailers");
    tls_codec_early_hints_103: TlsCodec, raw("/103");
    tls_codec_upload_64k: TlsCodec, Case::upload(K64, false, false);
    tls_codec_upload_64k_expect: TlsCodec, Case::upload(K64, false, true);
    tls_codec_upload_20m: TlsCodec, Case::upload(BIG, false, false);
    tls_codec_upload_20m_expect: TlsCodec, Case::upload(BIG, false, true);
    tls_codec_upload_chunked_64k: TlsCodec, Case::upload(K64, true, false);
    tls_codec_upload_chunked_20m: TlsCodec, Case::upload(BIG, true, false);
    h2c_mux_length_0: H2cMux, nginx("/b0");
    h2c_mux_length_1: H2cMux, nginx("/b1");
    h2c_mux_length_64k: H2cMux, nginx("/b64k");
    h2c_mux_length_20m: H2cMux, nginx("/b20m");
    h2c_mux_chunked_gzip: H2cMux, GZIP;
    h2c_mux_close_delimited: H2cMux, raw("/eof");
    h2c_mux_no_content_204: H2cMux, nginx("/204");
    h2c_mux_not_modified_with_length: H2cMux, NOT_MODIFIED;
    h2c_mux_head_with_length: H2cMux, HEAD;
    h2c_mux_trailers: H2cMux, raw("/trailers");
    h2c_mux_early_hints_103: H2cMux, raw("/103");
    h2c_mux_upload_64k: H2cMux, Case::upload(K64, false, false);
    h2c_mux_upload_64k_expect: H2cMux, Case::upload(K64, false, true);
    h2c_mux_upload_20m: H2cMux, Case::upload(BIG, false, false);
    h2c_mux_upload_20m_expect: H2cMux, Case::upload(BIG, false, true);
    h2c_mux_upload_chunked_64k: H2cMux, Case::upload(K64, true, false);
    h2c_mux_upload_chunked_20m: H2cMux, Case::upload(BIG, true, false);
    h2c_upgrade_length_0: H2cUpgrade, nginx("/b0");
    h2c_upgrade_length_1: H2cUpgrade, nginx("/b1");
    h2c_upgrade_length_64k: H2cUpgrade, nginx("/b64k");
    h2c_upgrade_length_20m: H2cUpgrade, nginx("/b20m");
    h2c_upgrade_chunked_gzip: H2cUpgrade, GZIP;
    h2c_upgrade_close_delimited: H2cUpgrade, raw("/eof");
    h2c_upgrade_no_content_204: H2cUpgrade, nginx("/204");
    h2c_upgrade_not_modified_with_length: H2cUpgrade, NOT_MODIFIED;
    h2c_upgrade_head_with_length: H2cUpgrade, HEAD;
    h2c_upgrade_trailers: H2cUpgrade, raw("/trailers");
    h2c_upgrade_early_hints_103: H2cUpgrade, raw("/103");
    h2c_upgrade_upload_64k: H2cUpgrade, Case::upload(K64, false, false);
    h2c_upgrade_upload_64k_expect: H2cUpgrade, Case::upload(K64, false, true);
    h2c_upgrade_upload_20m: H2cUpgrade, Case::upload(BIG, false, false);
    h2c_upgrade_upload_20m_expect: H2cUpgrade, Case::upload(BIG, false, true);
    h2c_upgrade_upload_chunked_64k: H2cUpgrade, Case::upload(K64, true, false);
    h2c_upgrade_upload_chunked_20m: H2cUpgrade, Case::upload(BIG, true, false);
}
